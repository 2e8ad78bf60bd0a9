"""The largest tables' tests read the rows of their newest build (issue 17, dbt_project/macros/newest_build.sql):
a daily build keeps millions of rows as they were, and testing them again every day was most of a 10M
day's test time. A bad row the newest build wrote fails its test; a bad row of an earlier build is not
read by the daily tests, and is by `test_every_row` and by a full refresh."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from minqing import transform
from minqing.devtools.generate import generate
from minqing.pipeline import run

pytestmark = pytest.mark.slow

START, DAYS = dt.date(2026, 7, 1), 3
GRADE_TEST = "accepted_values_mart_complaint_grades_grade__green__yellow__orange__red"


def _grade_test(*args: str) -> transform.DbtOutcome:
    return transform.run_dbt("test", "--select", GRADE_TEST, *args)


def test_daily_tests_read_the_newest_build(fresh_warehouse, tmp_path):
    generate(tmp_path, days=DAYS, seed=5, per_day=20, start=START)
    for offset in range(DAYS):
        assert not run(tmp_path, day=START + dt.timedelta(days=offset)).failed_channels

    with psycopg.connect(fresh_warehouse) as conn:
        builds = conn.execute("select count(distinct built_at), count(*) filter (where built_at = "
                              "(select max(built_at) from marts.mart_complaint_grades)) "
                              "from marts.mart_complaint_grades").fetchone()
        assert builds[0] >= 2 and builds[1] > 0, builds  # rows kept from earlier builds, and the newest's
        old = conn.execute("select complaint_id, grade from marts.mart_complaint_grades where built_at < "
                           "(select max(built_at) from marts.mart_complaint_grades) limit 1").fetchone()
        conn.execute("update marts.mart_complaint_grades set grade = 'purple' where complaint_id = %s", (old[0],))

    assert _grade_test().success  # an earlier build's row: the daily test does not read it
    assert not _grade_test("--vars", "{test_every_row: true}").success  # every row: it is found

    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("update marts.mart_complaint_grades set grade = %s where complaint_id = %s", (old[1], old[0]))
        conn.execute("update marts.mart_complaint_grades set grade = 'purple' where complaint_id = "
                     "(select complaint_id from marts.mart_complaint_grades where built_at = "
                     "(select max(built_at) from marts.mart_complaint_grades) limit 1)")
    assert not _grade_test().success  # the newest build's row is read

    # a full refresh writes every row again, and its tests read them all
    assert transform.run_dbt("build", "--full-refresh", "--select", "mart_complaint_grades").success
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(distinct built_at) from marts.mart_complaint_grades").fetchone()[0] == 1
