"""Airflow as data engineers run it: the api-server, scheduler, dag-processor and triggerer started
here (LocalExecutor, metadata in a PostgreSQL database of the warehouse's server, 127.0.0.1 only) on
the project's DAG folder, driven through the REST API (`/api/v2`, a token of the simple auth
manager), stopped at the end. The same stack as `minqing airflow up`.

The daily schedule is set a couple of hours before now (MINQING_DAILY_RUN_AT), so that the run the
test triggers is the morning's run, the next tick is a day away, and the deadline
(MINQING_DAILY_DEADLINE, an hour after the start) has already passed: its alert must arrive.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time

import psutil
import psycopg
import pytest

from conftest import differing_columns, marts_fingerprint, migrated_database
from minqing import config, orchestration
from minqing.airflow_stack import LocalAirflow, free_port
from minqing.devtools.generate import generate

pytestmark = pytest.mark.slow

DAILY, BRIEFING = orchestration.DAILY_DAG_ID, orchestration.BRIEFING_DAG_ID
# What differs between two warehouses loaded from the same files at other moments in another order:
# the files' numbers, a reception entry's version time (its receipt plus file_id microseconds, a
# tie-breaker: int_complaint_versions) and what follows from it, the moment a text was classified.
LOAD_ORDER = ("source_file_id", "last_updated_at", "event_at", "event_id", "category_classified_at")


def _schedule_two_hours_ago() -> tuple[str, str, dt.datetime]:
    """A run time two hours before now (Beijing), a deadline an hour after it, and the latest tick."""
    now = dt.datetime.now(config.BEIJING).replace(second=0, microsecond=0)
    tick = now - dt.timedelta(hours=2)
    return f"{tick:%H:%M}", f"{tick + dt.timedelta(hours=1):%H:%M}", tick


@pytest.fixture(scope="module")
def airflow(server_url, tmp_path_factory, alert_robot_module):
    run_at, deadline, tick = _schedule_two_hours_ago()
    day = orchestration.day_of_run(tick)
    root = tmp_path_factory.mktemp("scheduler")
    landing = root / "landing"
    generate(landing, days=6, seed=11, per_day=20, start=day - dt.timedelta(days=5))
    with migrated_database(server_url) as url:
        stack = LocalAirflow(
            home=root / "airflow", port=free_port(), warehouse_url=url,
            metadata_database=f"airflow_test_{os.getpid()}_{int(time.time())}",
            env={"LANDING_DIR": str(landing), "BRIEFING_DIR": str(root / "briefings"),
                 "MINQING_HASH_KEY": os.environ.get("MINQING_HASH_KEY", "test-key-not-secret"),
                 "MINQING_TASK_RETRIES": "1", "MINQING_TASK_RETRY_DELAY": "2",
                 "MINQING_DAILY_RUN_AT": run_at, "MINQING_DAILY_DEADLINE": deadline,
                 "AIRFLOW_CONN_MINQING_ALERT_WEBHOOK": json.dumps(
                     {"conn_type": "http", "host": alert_robot_module.url("/hooks/minqing"), "extra": {"kind": "json"}})})
        try:
            with stack:
                client = stack.client()
                for dag_id in (DAILY, BRIEFING):
                    client.wait_for_dag(dag_id)
                client.unpause(BRIEFING)
                yield {"stack": stack, "client": client, "url": url, "day": day, "tick": tick, "landing": landing,
                       "root": root, "robot": alert_robot_module, "server_url": server_url}
        finally:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{stack.metadata_database}" with (force)')


def _alerts(robot) -> list[dict]:
    return [json.loads(r["body"]) for r in robot.requests]


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def test_a_day_triggered_through_the_api_runs_each_task_in_its_own_process_and_fires_the_briefing(airflow, tmp_path):
    client, day = airflow["client"], airflow["day"]
    # triggered while the DAG is paused, then unpaused: the scheduler finds the morning's run there
    # already and creates no other
    run = client.trigger(DAILY, airflow["tick"])
    client.unpause(DAILY)
    done = client.wait_for_run(DAILY, run["dag_run_id"], timeout=1500)
    instances = client.task_instances(DAILY, run["dag_run_id"])
    failed = [(t["task_id"], t["state"]) for t in instances if t["state"] not in ("success", "skipped")]
    assert done["state"] == "success", (failed, airflow["stack"].log_tail("scheduler"))
    assert [r["run_type"] for r in client.runs(DAILY)] == ["manual"]  # no scheduled run beside it

    # each task ran in its own process (the task SDK's supervisor), none in the scheduler's; the
    # EmptyOperators cosmos adds (`…dbt_producer_watcher_done`) never start a process
    ran = [t for t in instances if t["state"] == "success" and t["operator"] != "EmptyOperator"]
    assert {t["task_id"] for t in instances if t["operator"] == "EmptyOperator"} == {
        "dbt_build.dbt_producer_watcher_done", "dbt_after_forecast.dbt_producer_watcher_done"}
    pids = [t["pid"] for t in ran]
    assert all(pids) and len(set(pids)) == len(ran), [(t["task_id"], t["pid"]) for t in ran]
    assert airflow["stack"].processes["scheduler"].pid not in pids

    # the briefing DAG ran on the Asset event of `publish`, through the scheduler
    briefing = _wait(lambda: [r for r in client.runs(BRIEFING) if r["state"] in ("success", "failed")],
                     300, "the briefing run")
    assert [(r["run_type"], r["state"]) for r in briefing] == [("asset_triggered", "success")]
    page = airflow["root"] / "briefings" / f"briefing_{day + dt.timedelta(days=1)}.html"
    assert page.exists() and "每日调度简报" in page.read_text(encoding="utf-8")

    # the deadline (an hour after the start, before now) had passed: the triggerer sent its alert
    late = _wait(lambda: [a for a in _alerts(airflow["robot"]) if "超时" in a["subject"]], 120, "the deadline alert")
    assert late[0]["day"] == day.isoformat() and late[0]["run_id"] == run["dag_run_id"]

    # the warehouse is what `dag.test()` builds for the same day from the same files (but for what
    # follows the order of loading: the three ingest tasks ran side by side here, in turn there)
    airflow["fingerprint"] = marts_fingerprint(airflow["url"])
    with migrated_database(airflow["server_url"]) as reference:
        local = orchestration.run_dag_test(DAILY, airflow["tick"], env=orchestration.dag_test_env(
            reference, extra={"LANDING_DIR": str(airflow["landing"])}))
        assert local.returncode == 0, local.line()
        assert marts_fingerprint(reference, without=LOAD_ORDER) == marts_fingerprint(airflow["url"], without=LOAD_ORDER), {
            t: differing_columns(reference, airflow["url"], t) for t in ("fct_complaints", "fct_complaint_status_events")}


def _kill_when_running(client, run_id: str, task_id: str, timeout: float = 900) -> int:
    """SIGKILL the process running the task (the task SDK titles it `airflow worker -- <ti id>`) once
    it has run a few seconds; returns the killed pid."""
    def running():
        ti = next((t for t in client.task_instances(DAILY, run_id) if t["task_id"] == task_id), None)
        if ti and ti["state"] == "running":
            return ti
        return None

    ti = _wait(running, timeout, f"{task_id} to run")
    time.sleep(3)  # in the middle of its work
    for process in psutil.process_iter(["pid", "cmdline"]):
        if f"airflow worker -- {ti['id']}" in " ".join(process.info["cmdline"] or []):
            os.kill(process.info["pid"], signal.SIGKILL)
            return process.info["pid"]
    raise AssertionError(f"no process found for {task_id} ({ti['id']})")


def test_a_backfill_with_a_killed_task_and_a_task_rerun_leave_the_marts_as_they_were(airflow):
    client, tick = airflow["client"], airflow["tick"]
    before = airflow.get("fingerprint") or pytest.skip("needs the first run")
    with psycopg.connect(airflow["url"]) as conn:
        files = conn.execute("select count(*) from ops.ingested_files").fetchone()[0]

    # two earlier days through the API; the first one's dbt build is killed with SIGKILL mid-build,
    # retried by the scheduler, and the run ends as a clean one
    client.backfill(DAILY, tick - dt.timedelta(days=2), tick - dt.timedelta(days=1))
    first = _wait(lambda: next((r for r in client.runs(DAILY) if r["run_type"] == "backfill"), None), 120,
                  "the backfill's first run")
    _kill_when_running(client, first["dag_run_id"], "dbt_build.dbt_producer_watcher")

    def backfill_done():
        runs = [r for r in client.runs(DAILY) if r["run_type"] == "backfill"]
        return runs if len(runs) == 2 and all(r["state"] in ("success", "failed") for r in runs) else None

    backfilled = _wait(backfill_done, 1800, "both backfill runs")
    assert [r["state"] for r in backfilled] == ["success", "success"]
    killed = next(t for t in client.task_instances(DAILY, first["dag_run_id"])
                  if t["task_id"] == "dbt_build.dbt_producer_watcher")
    assert killed["try_number"] == 2, killed
    assert marts_fingerprint(airflow["url"]) == before
    # backfills of past days are not late: no deadline alert for them
    assert not [a for a in _alerts(airflow["robot"]) if "超时" in a["subject"] and "backfill" in a["run_id"]]

    # one task of the morning's run cleared and run again: nothing loaded twice, the marts unchanged
    morning = next(r for r in client.runs(DAILY) if r["run_type"] == "manual")
    client.clear_task(DAILY, morning["dag_run_id"], ["ingest_hotline"])
    _wait(lambda: next(t for t in client.task_instances(DAILY, morning["dag_run_id"])
                       if t["task_id"] == "ingest_hotline")["try_number"] > 1, 300, "ingest_hotline to run again")
    again = client.wait_for_run(DAILY, morning["dag_run_id"], timeout=600)
    assert again["state"] == "success"
    with psycopg.connect(airflow["url"]) as conn:
        assert conn.execute("select count(*) from ops.ingested_files").fetchone()[0] == files
    assert marts_fingerprint(airflow["url"]) == before
