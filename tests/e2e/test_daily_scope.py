"""The daily aggregates rebuild only the days that may differ, the complaint grades only the complaints
that may, and the problem marts only the problems that may (issue 17), and the marts end as a full
rebuild would make them: a generated week run day by day through the real pipeline — work orders
updated over days, a re-sent file, the reception workbooks at the week's end — and one work order whose
newer version moves it to another day, then `dbt build --full-refresh` at the same moment; the
fingerprint of every mart is the same before and after.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil

import psycopg
import pytest

from ingestion.common import decode, parse_datetime
from minqing import transform
from minqing.devtools.fingerprint import fingerprint
from minqing.devtools.generate import generate
from minqing.pipeline import run

pytestmark = pytest.mark.slow

START, DAYS = dt.date(2026, 7, 1), 12
AGGREGATES = ("marts.fct_daily_complaint_counts", "marts.fct_daily_reports_by_key")
FOLLOWERS = (*AGGREGATES, "marts.mart_complaint_grades")  # the marts that rebuild what fct_complaints changed
MONTHLY = ("marts.fct_monthly_handling_hours",)  # the same by month (the week's run stays in one month)
# the marts that rebuild the problems whose memberships or reports changed (macros/problem_scope.sql)
PROBLEM_MARTS = ("marts.fct_problem_reports", "marts.fct_problems", "marts.fct_complaint_links")


def _moved_order(month, day: dt.date) -> str:
    """A newer version of the first work order of the month's first export, received three days later
    than it said and written on `day`: a correction that moves the complaint to another day."""
    export = sorted((month / "hotline").glob(f"*_{START:%Y%m%d}.csv"))[0]
    text, _ = decode(export.read_bytes())
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    order = dict(rows[0])
    received = parse_datetime(order["来电时间"]) + dt.timedelta(days=3)
    order["来电时间"] = f"{received:%Y-%m-%d %H:%M:%S}"
    order["更新时间"] = f"{dt.datetime.combine(day, dt.time(9)):%Y-%m-%d %H:%M:%S}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(order), lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(order)
    return out.getvalue()


def test_day_by_day_equals_a_full_rebuild(fresh_warehouse, tmp_path):
    month = tmp_path / "month"
    generate(month, days=DAYS, seed=11, per_day=30, start=START)
    landing = tmp_path / "landing"
    shutil.copytree(month, landing)
    last = START + dt.timedelta(days=DAYS - 1)
    (landing / "hotline" / f"12345_correction_{last:%Y%m%d}.csv").write_text(_moved_order(month, last), "utf-8")

    for offset in range(DAYS):
        summary = run(landing, day=START + dt.timedelta(days=offset))
        assert not summary.failed_channels, summary
    with psycopg.connect(fresh_warehouse) as conn:  # which days' cells the last run kept, which it built again
        kept_and_rebuilt = {table: conn.execute(
            f"select count(distinct received_date) filter (where xmin::text <> newest), "
            f"count(distinct received_date) filter (where xmin::text = newest) "
            f"from {table}, (select max(xmin::text::bigint)::text as newest from {table}) n").fetchone()
            for table in FOLLOWERS}
        problems_kept_and_rebuilt = {table: conn.execute(
            f"select count(distinct problem_id) filter (where xmin::text <> newest), "
            f"count(distinct problem_id) filter (where xmin::text = newest) "
            f"from {table}, (select max(xmin::text::bigint)::text as newest from {table}) n").fetchone()
            for table in PROBLEM_MARTS}
    incremental = fingerprint(fresh_warehouse)

    with psycopg.connect(fresh_warehouse) as conn:
        changes = conn.execute("select count(*), count(*) filter (where received_date = '-infinity') "
                               "from ops.complaint_day_changes").fetchone()
        marks = dict(conn.execute("select relation, through_change_id from ops.aggregate_watermarks").fetchall())
    assert changes[0] > changes[1] >= 1  # the first build of fct_complaints was whole; the others noted days
    # the followers of fct_complaints' change log: the marts above and the link stage (minqing/analytics/linking.py)
    assert set(marks) == {*FOLLOWERS, *MONTHLY, *PROBLEM_MARTS, "ops.problem_members"} and all(marks.values())
    outcome = transform.run_dbt("build", "--full-refresh")
    assert outcome.success, outcome.failures
    rebuilt = fingerprint(fresh_warehouse)
    assert incremental == rebuilt
    assert incremental["fct_daily_complaint_counts"]["rows"] > 0
    assert all(kept > 0 and rebuilt > 0 for kept, rebuilt in kept_and_rebuilt.values()), kept_and_rebuilt
    assert all(kept > 0 and rebuilt > 0 for kept, rebuilt in problems_kept_and_rebuilt.values()), problems_kept_and_rebuilt
