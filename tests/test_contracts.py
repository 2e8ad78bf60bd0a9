"""Each channel's contract is the one statement of its source: what the warehouse, dbt and the
checks hold must equal it."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from ingestion.contracts import CONTRACTS
from minqing import config
from quality.suites import CHANNEL_SUITES

STAGING = Path(config.DBT_PROJECT_DIR) / "models" / "staging"
PG_TYPES = {"text": "text", "bigint": "bigint", "integer": "integer", "boolean": "boolean", "jsonb": "jsonb",
            "date": "date", "timestamptz": "timestamp with time zone"}


def test_the_migrated_raw_tables_have_the_contracts_columns_in_order_with_their_types(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        for contract in CONTRACTS.values():
            schema, table = contract.table.split(".")
            found = conn.execute(
                "select column_name, data_type, is_nullable = 'YES' from information_schema.columns "
                "where table_schema = %s and table_name = %s order by ordinal_position", (schema, table)).fetchall()
            stated = [(c.name, PG_TYPES[c.type], c.nullable) for c in contract.columns]
            assert found == stated, contract.channel
            key = conn.execute(
                "select array_agg(a.attname order by k.ordinality) from pg_index i "
                "cross join unnest(i.indkey) with ordinality k(attnum, ordinality) "
                "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum "
                "where i.indrelid = %s::regclass and i.indisprimary", (contract.table,)).fetchone()[0]
            assert tuple(key) == contract.key_columns, contract.channel


@pytest.mark.parametrize("channel", list(CONTRACTS))
def test_each_staging_model_forms_the_complaint_text_from_the_contracts_columns(channel):
    contract = CONTRACTS[channel]
    (model,) = (STAGING / channel).glob(f"stg_{channel}__*s.sql") if channel != "miniprogram" else \
        [STAGING / channel / "stg_miniprogram__tickets.sql"]
    calls = set(re.findall(r"complaint_text\(\[([^\]]*)\], 'source'\)", model.read_text(encoding="utf-8")))
    assert calls == {", ".join(f"'{c}'" for c in contract.text_columns)}


def test_the_suites_check_the_contracts_tables_and_values():
    for channel, suite in CHANNEL_SUITES.items():
        contract = CONTRACTS[channel]
        assert (suite.table, suite.key_columns, suite.record_id_column) == \
            (contract.table, contract.key_columns, contract.record_id)
        for rule in suite.rules:
            assert set(rule.columns) <= set(contract.column_names), rule
            if rule.type == "expect_column_values_to_be_in_set":
                assert tuple(rule.kwargs["value_set"]) == contract.vocabularies[rule.columns[0]]


def test_personal_columns_are_the_person_keys_clear_columns_and_never_leave_raw():
    for contract in CONTRACTS.values():
        person = contract.person
        assert set(contract.personal_columns) == {*person.clear, person.name}
        for model in (STAGING / contract.channel).glob("*.sql"):
            sql = model.read_text(encoding="utf-8")
            for column in contract.personal_columns:
                assert not re.search(rf"source\.{column}\b(?!_)", sql), (model.name, column)
