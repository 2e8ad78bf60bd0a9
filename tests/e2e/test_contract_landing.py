"""A landing folder written by hand to the source contract (tests/fixtures/make_contract_landing.py),
not by `minqing generate`: every row must be accounted for, and the marts must hold exactly the
distinct resident demands in their newest state, with no clear personal data."""

from __future__ import annotations

import json

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import transform

from conftest import FIXTURES

LANDING = FIXTURES / "contract_landing"
EXPECTED = json.loads((FIXTURES / "contract_landing_expected.json").read_text(encoding="utf-8"))
HOTLINE_STATUS = {"待派单": "received", "已派单": "dispatched", "已签收": "accepted", "办理中": "in_progress",
                  "延期办理": "extended", "已退单": "returned", "已办结": "closed"}
TICKET_STATUS = {"submitted": "received", "dispatched": "dispatched", "accepted": "accepted",
                 "in_progress": "in_progress", "completed": "closed", "closed": "closed", "cancelled": "cancelled"}


@pytest.fixture()
def loaded(fresh_warehouse):
    reports = ingest(LANDING, progress=False)
    return fresh_warehouse, {r.file: r for r in reports}


def test_every_file_is_accounted_as_the_contract_says(loaded):
    _, reports = loaded
    assert set(reports) == set(EXPECTED["files"])
    for name, expected in EXPECTED["files"].items():
        got = reports[name]
        assert (got.status, got.rows_in, got.rows_loaded, got.rows_quarantined) == (
            expected["status"], expected["rows_in"], expected["rows_loaded"], expected["rows_quarantined"]), name


def test_quarantine_rows_match_the_reports(loaded):
    url, reports = loaded
    with psycopg.connect(url) as conn:
        per_file = dict(conn.execute(
            "select path, count(*) from raw.quarantine where row_number is not null group by path").fetchall())
        whole = {r[0] for r in conn.execute("select path from raw.quarantine where row_number is null")}
    for name, report in reports.items():
        assert per_file.get(name, 0) == report.rows_quarantined, name
        if report.status == "quarantined" and report.rows_in == 0:
            assert name in whole


@pytest.mark.slow
def test_marts_hold_each_distinct_demand_in_its_newest_state(loaded):
    url, _ = loaded
    outcome = transform.build()
    assert outcome.success, outcome.failures
    facts = EXPECTED["facts"]
    with psycopg.connect(url) as conn:
        rows = conn.execute("select source_channel, source_record_id, status, received_at, community_id "
                            "from marts.fct_complaints").fetchall()
        names = dict(conn.execute("select community_name, community_id from marts.dim_community").fetchall())
    by_id = {(r[0], r[1]): r for r in rows}

    orders = facts["hotline"]["work_orders"]
    hotline_rows = {k[1]: v for k, v in by_id.items() if k[0].startswith("hotline")}
    assert set(hotline_rows) == set(orders)
    for order_id, fact in orders.items():
        row = hotline_rows[order_id]
        assert row[2] == HOTLINE_STATUS[fact["status"]], order_id
        assert row[3].isoformat() == fact["received_at"] or row[3] == _ts(fact["received_at"]), order_id
        assert row[4] == names[fact["community"]], order_id

    tickets = facts["miniprogram"]["tickets"]
    demand_tickets = {t: f for t, f in tickets.items() if f["resident_demand"]}
    ticket_rows = {k[1]: v for k, v in by_id.items() if k[0] == "miniprogram"}
    assert set(ticket_rows) == set(demand_tickets)
    for ticket_id, fact in demand_tickets.items():
        assert ticket_rows[ticket_id][2] == TICKET_STATUS[fact["status"]], ticket_id

    reception_rows = [k for k in by_id if k[0] == "reception"]
    assert len(reception_rows) == facts["reception"]["distinct_entries"]
    assert len(rows) == len(orders) + len(demand_tickets) + facts["reception"]["distinct_entries"]


@pytest.mark.slow
def test_no_personal_data_outside_the_restricted_schema(loaded):
    url, _ = loaded
    assert transform.build().success
    personal = EXPECTED["facts"]["personal_data"]
    values = set()
    for key, items in personal.items():
        if isinstance(items, list):
            # a phone the source already masked (138****5678) is what may be shown
            values.update(v for v in items if isinstance(v, str) and len(v) >= 2 and "*" not in v)
    assert values
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            """select c.table_schema, c.table_name, c.column_name
               from information_schema.columns c
               join information_schema.tables t using (table_schema, table_name)
               where c.table_schema not in ('raw', 'pg_catalog', 'information_schema')
                 and c.data_type in ('text', 'jsonb', 'ARRAY', 'character varying')""").fetchall()
        schemas = {c[0] for c in columns}
        assert {"staging", "intermediate", "marts"} <= schemas
        for schema, table, column in columns:
            found = conn.execute(
                f'select v from unnest(%s::text[]) v where exists (select 1 from "{schema}"."{table}" '
                f'where strpos("{column}"::text, v) > 0)', (sorted(values),)).fetchall()
            assert not found, f"{[f[0] for f in found]} readable in {schema}.{table}.{column}"


def _ts(text):
    import datetime as dt

    return dt.datetime.fromisoformat(text)
