"""The migrated raw tables are the contracts' (ingestion/contracts/): the same columns in the same
order, with their types, nullability and primary key."""

from __future__ import annotations

import psycopg

from ingestion.contracts import CONTRACTS

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
            # a partitioned table's key holds its partition column (migration 0015: month of receipt)
            assert tuple(key) == (*contract.key_columns, contract.dated_by), contract.channel
