"""Each channel's contract is the one statement of its source: what the warehouse, dbt and the
checks hold must equal it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingestion.contracts import CONTRACTS
from minqing import config
from quality.suites import CHANNEL_SUITES

STAGING = Path(config.DBT_PROJECT_DIR) / "models" / "staging"


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
                assert tuple(rule.kwargs["value_set"]) == tuple(contract.vocabularies[rule.columns[0]])


def test_personal_columns_are_the_person_keys_clear_columns_and_never_leave_raw():
    for contract in CONTRACTS.values():
        person = contract.person
        assert set(contract.personal_columns) == {*person.clear, person.name}
        for model in (STAGING / contract.channel).glob("*.sql"):
            sql = model.read_text(encoding="utf-8")
            for column in contract.personal_columns:
                assert not re.search(rf"source\.{column}\b(?!_)", sql), (model.name, column)


def test_the_street_rule_reads_the_reference_folder_in_force_when_it_runs(tmp_path, monkeypatch):
    """The suites are imported once a process; a district's folder named afterwards (the bench's city)
    is the one the street check reads, and its reason lists a few spellings, not hundreds."""
    from minqing import reference

    def street_rule():
        (rule,) = [r for r in CHANNEL_SUITES["hotline"].rules if r.columns == ("street",)]
        return rule

    monkeypatch.delenv("MINQING_REFERENCE_DIR", raising=False)
    assert "槐园街道" not in street_rule().kwargs["value_set"]
    reference.init(tmp_path)
    with open(tmp_path / "street_aliases.csv", "a", encoding="utf-8") as fh:
        fh.writelines(f"s{n},测试{n}街道\n" for n in range(20))
        fh.write("huaiyuan,槐园街道\n")
    monkeypatch.setenv("MINQING_REFERENCE_DIR", str(tmp_path))
    rule = street_rule()
    assert "槐园街道" in rule.kwargs["value_set"] and len(rule.kwargs["value_set"]) == 4 + 21
    assert "… (25 values)" in rule.reason and "测试19街道" not in rule.reason
