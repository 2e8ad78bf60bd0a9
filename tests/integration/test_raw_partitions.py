"""The raw tables are range-partitioned by Beijing month of receipt (migration 0015): ingested rows
land in their month's partition, rows of a month without one land in the default partition and
ops.ensure_raw_partitions moves them out, a detached month takes exactly its rows with it, and the
migration converts a warehouse that already holds rows (and views over them) without losing any."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingestion.contracts import CONTRACTS
from ingestion.loader import ingest
from minqing import config, warehouse

from conftest import FIXTURES

LANDING = FIXTURES / "contract_landing"
EXPECTED = json.loads((FIXTURES / "contract_landing_expected.json").read_text(encoding="utf-8"))
RAW = {"hotline": ("raw.hotline_work_orders", "received_at"),
       "miniprogram": ("raw.miniprogram_tickets", "submitted_at"),
       "reception": ("raw.reception_entries", "entry_date")}
assert RAW == {c.channel: (c.table, c.dated_by) for c in CONTRACTS.values()}  # the contracts' date is the key
RUN_DAY = dt.date(2026, 7, 18)  # the day after the newest delivery of the contract folder


def _rows_per_partition(conn, table: str) -> dict[str, int]:
    return dict(conn.execute(f"select tableoid::regclass::text, count(*) from {table} group by 1").fetchall())


def _partitions(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "select inhrelid::regclass::text from pg_inherits where inhparent = %s::regclass order by 1", (table,))]


def _file_id(conn, channel: str) -> int:
    return conn.execute(
        """insert into ops.ingested_files (sha256, channel, path, size_bytes, status, rows_in, rows_loaded, rows_quarantined)
           values (%s, %s, %s, 1, 'loaded', 0, 0, 0) returning file_id""",
        (uuid.uuid4().hex, channel, f"{channel}/test_{uuid.uuid4().hex[:6]}")).fetchone()[0]


def test_raw_tables_are_partitioned_and_ingested_rows_land_in_their_months(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        partitioned = {r[0] for r in conn.execute("select partrelid::regclass::text from pg_partitioned_table")}
        assert {table for table, _ in RAW.values()} <= partitioned
        for contract in CONTRACTS.values():
            table = contract.table
            partition_key = conn.execute(
                """select a.attname from pg_partitioned_table p
                   join pg_attribute a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
                   where p.partrelid = %s::regclass and p.partstrat = 'r'""", (table,)).fetchone()[0]
            assert partition_key == contract.dated_by
            # the contract's row identity, and the partition key a partitioned table's key must hold
            primary_key = conn.execute(
                """select array_agg(a.attname order by k.n) from pg_constraint c
                   cross join unnest(c.conkey) with ordinality k(attnum, n)
                   join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
                   where c.conrelid = %s::regclass and c.contype = 'p'""", (table,)).fetchone()[0]
            assert tuple(primary_key) == (*contract.key_columns, contract.dated_by)
            assert conn.execute("select has_table_privilege('minqing_pipeline', %s, 'insert')", (table,)).fetchone()[0]
            assert not conn.execute("select has_table_privilege('bi_reader', %s, 'select')", (table,)).fetchone()[0]

    reports = ingest(LANDING, day=RUN_DAY, progress=False)
    loaded = {channel: sum(r.rows_loaded for r in reports if r.channel == channel) for channel in RAW}
    assert loaded == {channel: EXPECTED["totals"][channel]["rows_loaded"] for channel in RAW}

    months_ahead = config.settings()["ingestion"]["raw_partition_months_ahead"]
    with psycopg.connect(fresh_warehouse) as conn:
        for channel, (table, key) in RAW.items():
            per_partition = _rows_per_partition(conn, table)
            assert f"{table}_default" not in per_partition, per_partition
            assert sum(per_partition.values()) == loaded[channel] > 0
            # each row sits in the partition of its own Beijing month
            misplaced = conn.execute(
                f"""select count(*) from {table}
                     where tableoid::regclass::text
                           <> %s || to_char(({key}::timestamptz at time zone 'Asia/Shanghai'), 'YYYY_MM')""",
                (f"{table}_",)).fetchone()[0]
            assert misplaced == 0
            # the run's month and the months ahead exist before any of their rows
            for ahead in range(months_ahead + 1):
                month = (RUN_DAY.replace(day=1) + dt.timedelta(days=31 * ahead)).replace(day=1)
                assert f"{table}_{month:%Y_%m}" in _partitions(conn, table)


def test_a_month_boundary_is_midnight_in_beijing(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("select ops.ensure_raw_partitions('2026-07-18', 1)")
        file_id = _file_id(conn, "hotline")
        for row_number, received in ((1, "2026-07-31 23:59:59+08"), (2, "2026-08-01 00:00:00+08")):
            conn.execute(
                """insert into raw.hotline_work_orders (file_id, row_number, work_order_id, intake_line, received_at, updated_at)
                   values (%s, %s, 'GD-EDGE', '12345', %s, %s)""", (file_id, row_number, received, received))
        placed = dict(conn.execute(
            "select row_number, tableoid::regclass::text from raw.hotline_work_orders where file_id = %s", (file_id,)))
        assert placed == {1: "raw.hotline_work_orders_2026_07", 2: "raw.hotline_work_orders_2026_08"}


def test_a_row_of_a_month_without_partition_lands_in_default_and_moves_out(fresh_warehouse):
    with psycopg.connect(fresh_warehouse) as conn:
        hotline_file, reception_file = _file_id(conn, "hotline"), _file_id(conn, "reception")
        conn.execute("""insert into raw.hotline_work_orders (file_id, row_number, work_order_id, intake_line, received_at, updated_at)
                        values (%s, 1, 'GD-FUTURE', '12345', '2099-05-01 00:30+08', '2099-05-01 00:30+08')""",
                     (hotline_file,))
        conn.execute("""insert into raw.reception_entries (file_id, sheet, row_number, entry_id, entry_date, issue_text)
                        values (%s, 'csv', 2, 'E-FUTURE', '2099-05-31', '楼道灯不亮')""", (reception_file,))
        conn.commit()
        assert _rows_per_partition(conn, "raw.hotline_work_orders") == {"raw.hotline_work_orders_default": 1}
        assert _rows_per_partition(conn, "raw.reception_entries") == {"raw.reception_entries_default": 1}

        # the pipeline role calls it (security definer: it does not own the tables)
        conn.execute("set role minqing_pipeline")
        created = [r[0] for r in conn.execute("select * from ops.ensure_raw_partitions('2026-07-18', 1)")]
        conn.execute("reset role")
        conn.commit()
        assert {"raw.hotline_work_orders_2099_05", "raw.reception_entries_2099_05",
                "raw.hotline_work_orders_2026_07", "raw.miniprogram_tickets_2026_08"} <= set(created)
        assert "raw.miniprogram_tickets_2099_05" not in created  # no row of that month in its default
        assert _rows_per_partition(conn, "raw.hotline_work_orders") == {"raw.hotline_work_orders_2099_05": 1}
        assert _rows_per_partition(conn, "raw.reception_entries") == {"raw.reception_entries_2099_05": 1}
        for table in ("raw.hotline_work_orders_2099_05", "raw.reception_entries_2099_05"):
            assert conn.execute(f"select count(*) from {table}").fetchone()[0] == 1
        # a second call has nothing to do
        assert conn.execute("select * from ops.ensure_raw_partitions('2026-07-18', 1)").fetchall() == []


def test_detaching_a_month_takes_exactly_its_rows(fresh_warehouse):
    ingest(LANDING, day=RUN_DAY, progress=False)
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        before = _rows_per_partition(conn, "raw.hotline_work_orders")
        month = "raw.hotline_work_orders_2026_07"
        assert before[month] > 0
        total = sum(before.values())
        conn.execute(f"alter table raw.hotline_work_orders detach partition {month}")
        assert conn.execute("select count(*) from raw.hotline_work_orders").fetchone()[0] == total - before[month]
        assert conn.execute(f"select count(*) from {month}").fetchone()[0] == before[month]
        assert conn.execute("""select count(*) from raw.hotline_work_orders
                                where received_at >= '2026-07-01 00:00+08' and received_at < '2026-08-01 00:00+08'""").fetchone()[0] == 0
        # while the detached table exists, a call leaves the month alone (its rows would go to default)
        assert "raw.hotline_work_orders_2026_07" not in [
            r[0] for r in conn.execute("select * from ops.ensure_raw_partitions('2026-07-18', 1)")]
        conn.execute(f"drop table {month}")


def test_the_migration_converts_a_warehouse_that_holds_rows_and_views(server_url, monkeypatch):
    name = f"minqing_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    every = warehouse.migration_files
    try:
        monkeypatch.setattr(warehouse, "migration_files", lambda: [m for m in every() if m[0] < "0015"])
        warehouse.migrate()
        with psycopg.connect(url, autocommit=True) as conn:
            # the loader of this tree calls the function 0015 creates: a stand-in until then
            conn.execute("create function ops.ensure_raw_partitions(date, integer) returns setof text "
                         "language sql as 'select null::text where false'")
        ingest(LANDING, progress=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop function ops.ensure_raw_partitions(date, integer)")
            # views over raw, as dbt's staging and intermediate views are, with grants and comments
            conn.execute("""create view staging.test_orders with (security_barrier = true) as
                            select * from raw.hotline_work_orders where file_id > 0""")
            conn.execute("create view intermediate.test_order_count as select count(*) as n from staging.test_orders")
            conn.execute("grant select on staging.test_orders to street_center")
            conn.execute("comment on view staging.test_orders is 'orders'")
            conn.execute("comment on column staging.test_orders.work_order_id is 'the id'")
            before = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table, _ in RAW.values()}
            acl_before = conn.execute("select relacl::text from pg_class where oid = 'raw.hotline_work_orders'::regclass").fetchone()[0]
        assert all(before.values())

        monkeypatch.setattr(warehouse, "migration_files", every)
        assert warehouse.migrate()[0] == "0015_raw_partitioned_by_month.sql"  # and any later ones

        with psycopg.connect(url, autocommit=True) as conn:
            after = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table, _ in RAW.values()}
            assert after == before
            for table, _ in RAW.values():
                assert f"{table}_default" not in _rows_per_partition(conn, table)
            assert conn.execute("select relacl::text from pg_class where oid = 'raw.hotline_work_orders'::regclass").fetchone()[0] == acl_before
            assert conn.execute("select n from intermediate.test_order_count").fetchone()[0] == before["raw.hotline_work_orders"]
            assert conn.execute("select has_table_privilege('street_center', 'staging.test_orders', 'select')").fetchone()[0]
            assert conn.execute("select obj_description('staging.test_orders'::regclass, 'pg_class'), "
                                "col_description('staging.test_orders'::regclass, 3), "
                                "(select reloptions from pg_class where oid = 'staging.test_orders'::regclass)"
                                ).fetchone() == ("orders", "the id", ["security_barrier=true"])
            # the view reads the partitioned table now, not a leftover of the old one
            assert conn.execute("select count(*) from pg_class where relname like '%\\_unpartitioned'").fetchone()[0] == 0
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.mark.parametrize("months_ahead", [-1, None])
def test_ensure_refuses_a_nonsense_window(fresh_warehouse, months_ahead):
    with psycopg.connect(fresh_warehouse) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("select ops.ensure_raw_partitions('2026-07-18', %s)", (months_ahead,))
