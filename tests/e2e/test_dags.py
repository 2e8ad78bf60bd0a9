"""The Airflow DAGs: they import cleanly with the expected structure, and a real `dag.test()` run
against the warehouse populates the marts; a re-run and a backfill of an earlier day leave them as
they were."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import psycopg
import pytest

from minqing import config, orchestration, transform
from minqing.config import BEIJING
from minqing.devtools.generate import generate

from conftest import marts_fingerprint

PROJECT_DAGS = ("minqing_daily", "minqing_briefing")


def _airflow_python(code: str, env_extra: dict | None = None) -> dict:
    """Run Python in a fresh process with the local Airflow environment; it prints one JSON line."""
    orchestration.ensure_manifest()
    env = {**os.environ, **orchestration.airflow_env(), **(env_extra or {})}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["watcher", "local"])
def test_dag_folder_imports_without_errors_and_has_the_expected_shape(mode):
    found = _airflow_python("""
import json, time
started = time.perf_counter()
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
from cosmos import settings
from cosmos.operators._watcher import base
folder = Path(__import__('os').environ['AIRFLOW__CORE__DAGS_FOLDER'])
bag = BundleDagBag(dag_folder=folder, bundle_path=folder)  # the DAGs folder on the path, as in Airflow
dag = bag.dags['minqing_daily']
print(json.dumps({
    'errors': bag.import_errors, 'dags': sorted(bag.dags), 'seconds': time.perf_counter() - started,
    'tasks': {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
    'timetable': type(dag.timetable).__name__, 'catchup': dag.catchup,
    'retries': {t.task_id: [t.retries, t.retry_exponential_backoff] for t in dag.tasks},
    'outlets': [a.name for a in dag.get_task('publish').outlets],
    'briefing_schedule': [a.name for a in bag.dags['minqing_briefing'].timetable.asset_condition.objects],
    'briefing_tasks': [t.task_id for t in bag.dags['minqing_briefing'].tasks],
    'report_rule': str(dag.get_task('report').trigger_rule.value),
    'deadline': [d.interval.total_seconds() for d in (dag.deadline if isinstance(dag.deadline, list) else [dag.deadline])],
    'node_events': sorted(base._DBT_EVENT_ALLOWLIST & base._DBT_NODE_STATUS_EVENT_TYPES),
    'reliable_retry': settings.enable_watcher_reliable_retry,
}))
""", {"MINQING_TASK_RETRIES": "2", "MINQING_COSMOS_MODE": mode})  # the production default; local test runs set 0
    assert found["errors"] == {}
    assert set(PROJECT_DAGS) <= set(found["dags"])
    tasks = found["tasks"]
    for channel in ("hotline", "miniprogram", "reception"):
        assert tasks[f"ingest_{channel}"] == [f"validate_{channel}"]
        assert tasks[f"validate_{channel}"] == ["classify"]
    dbt_tasks = [t for t in tasks if t.startswith("dbt_build.")]
    if mode == "watcher":
        # one `dbt build` of the group (the producer) first, then a task per model and per model's
        # tests that take their results from it
        assert tasks["classify"] == ["dbt_build.dbt_producer_watcher"]
        # the forecast, the link stage and the effects, side by side between the two groups
        assert tasks["forecast"] == tasks["link"] == tasks["effects"] == ["dbt_after_forecast.dbt_producer_watcher"]
        assert "dbt_build.fct_complaints.test" in tasks["dbt_build.fct_complaints.run"]
        downstream, todo = set(), ["dbt_build.dbt_producer_watcher"]
        while todo:
            for child in tasks[todo.pop()]:
                if child not in downstream:
                    downstream.add(child)
                    todo.append(child)
        assert set(dbt_tasks) - {"dbt_build.dbt_producer_watcher"} <= downstream
        # the producer pushes a node's last event only (the one its task reads), and no Variable copy
        # of every status on each push
        assert found["node_events"] == ["NodeFinished"] and found["reliable_retry"] is False
    else:
        # one `dbt build` task per model: the model and the tests that read only it and its ancestors
        assert "dbt_build.fct_complaints_model_build" in dbt_tasks
        assert not any(t.endswith((".run", ".test")) for t in dbt_tasks)
    # local mode: a test of several models runs after all of them, in its own task; watcher mode: in
    # the one build, its result in its models' test tasks (no task that waits on a status never written)
    detached = "dbt_build.relationships_fct_complaints_community_id__community_id__ref_dim_community__test"
    assert (detached in dbt_tasks) == (mode == "local")
    # `report` is the one last task: whatever happened before, it runs, records the run and alerts
    assert tasks["publish"] == ["report"] and tasks["report"] == []
    assert all(tasks[t] or t in dbt_tasks for t in tasks if t != "report")
    assert found["report_rule"] == "all_done" and found["deadline"] == [7200.0]
    # publish waits for the last dbt group: a failed model or test (what each mart promises) stops it
    feeds_publish = [t for t in tasks if "publish" in tasks[t]]
    assert feeds_publish and all(t.startswith("dbt_after_forecast.") for t in feeds_publish)
    assert any(t.startswith("dbt_after_forecast.") for t in tasks["forecast"])
    assert any(t.startswith("dbt_after_forecast.") for t in tasks["link"])
    assert any(t.startswith("dbt_after_forecast.") for t in tasks["effects"])
    for reads_forecast in ("rpt_early_warnings", "mart_sentiment_code", "rpt_dispatch_briefing", "fct_problems",
                           "mart_intervention_effects"):
        assert not any(reads_forecast in t for t in dbt_tasks)  # built after the forecast, not before
        assert any(reads_forecast in t for t in tasks if t.startswith("dbt_after_forecast."))
    assert "marts.fct_complaints" in found["outlets"]
    # the briefing DAG runs on the Asset that the daily DAG's publish task updates
    assert "marts.rpt_dispatch_briefing" in found["outlets"]
    assert found["briefing_schedule"] == ["marts.rpt_dispatch_briefing"]
    assert found["briefing_tasks"] == ["render_briefing"]
    assert found["timetable"] == "CronTriggerTimetable"
    assert all(retries == 2 and backoff for task, (retries, backoff) in found["retries"].items() if task != "report")
    assert found["retries"]["report"][0] == 0  # it fails the run on purpose: no retry
    print(f"DAG folder parsed in {found['seconds']:.1f} s")


def test_a_runs_day_is_the_beijing_day_before_its_logical_date_as_airflow_hands_it_over():
    import pendulum

    for logical_date in (pendulum.datetime(2026, 7, 6, 22, tz="UTC"),  # what a task's context holds
                         pendulum.datetime(2026, 7, 7, 6, tz="Asia/Shanghai"),
                         dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING)):
        assert orchestration.day_of_run(logical_date) == dt.date(2026, 7, 6), logical_date
        assert orchestration.run_as_of(logical_date) == "2026-07-07T00:00:00+08:00"


@pytest.mark.slow
def test_daily_dag_runs_end_to_end_and_reruns_and_backfills_change_nothing(fresh_warehouse, tmp_path, monkeypatch,
                                                                           alert_robot):
    """With the default cosmos mode (watcher: one `dbt build` per task group, a task per model and
    per model's tests following it): a run, the briefing on its Asset, a re-run and a backfill leave
    the same marts; a dbt test that fails fails the run before anything is published and sends the
    run's one alert (to a JSON webhook here), and the next run after the fault is fixed leaves the
    marts of a clean run."""
    landing = tmp_path / "landing"
    generate(landing, days=6, seed=5, per_day=20, start=dt.date(2026, 7, 1))
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("AIRFLOW_CONN_MINQING_ALERT_WEBHOOK", json.dumps(
        {"conn_type": "http", "host": alert_robot.url("/hooks/minqing"), "extra": {"kind": "json"}}))

    last = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING),
                                      warehouse_url=fresh_warehouse)
    assert last.returncode == 0, (last.stdout + last.stderr)[-5000:]
    with psycopg.connect(fresh_warehouse) as conn:
        complaints = conn.execute("select count(*) from marts.fct_complaints").fetchone()[0]
        loaded = conn.execute("select count(*) from ops.ingested_files").fetchone()[0]
    assert complaints > 0 and loaded > 0
    first = marts_fingerprint(fresh_warehouse)

    briefings = tmp_path / "briefings"
    monkeypatch.setenv("BRIEFING_DIR", str(briefings))
    briefing = orchestration.run_dag_test("minqing_briefing", dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING),
                                          warehouse_url=fresh_warehouse)
    assert briefing.returncode == 0, (briefing.stdout + briefing.stderr)[-5000:]
    page = briefings / "briefing_2026-07-07.html"  # the meeting of 7 July, about 6 July
    assert page.exists() and "每日调度简报" in page.read_text(encoding="utf-8")

    again = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING),
                                       warehouse_url=fresh_warehouse)
    assert again.returncode == 0, (again.stdout + again.stderr)[-5000:]
    assert marts_fingerprint(fresh_warehouse) == first

    backfill = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 3, 6, tzinfo=BEIJING),
                                          warehouse_url=fresh_warehouse)
    assert backfill.returncode == 0, (backfill.stdout + backfill.stderr)[-5000:]
    assert marts_fingerprint(fresh_warehouse) == first
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(*) from ops.ingested_files").fetchone()[0] == loaded

    # a label with a category that does not exist (written past `minqing review import`, which
    # refuses it): the category tests fail, their tasks fail, nothing is published
    with psycopg.connect(fresh_warehouse) as conn:
        complaint_id, category = conn.execute(
            "select complaint_id, category_code from marts.fct_complaints order by complaint_id limit 1").fetchone()
        conn.execute("""insert into ops.classification_reviews (complaint_id, text_sha256, category_code, reviewed_by)
                        values (%s, 'x', 'no_such_category', 'fault-injection')""", (complaint_id,))
        conn.commit()
    broken = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING),
                                        warehouse_url=fresh_warehouse)
    assert broken.returncode != 0 and broken.summary["state"] == "failed", broken.line()
    assert any(t.startswith("dbt_build.") for t in broken.summary["failed_tasks"]), broken.summary
    assert broken.summary["unfinished"].get("publish") == "upstream_failed", broken.summary  # no Asset, no briefing
    assert "report" in broken.summary["failed_tasks"]  # the last task ran, and failed the run on purpose
    failures = [json.loads(r["body"]) for r in alert_robot.requests]
    failures = [a for a in failures if "日报运行失败" in a["subject"]]
    assert len(failures) == 1, failures  # one alert for the run
    alert = failures[0]
    assert alert["day"] == "2026-07-06" and alert["run_id"] == broken.summary["run_id"]
    assert any("dbt_build." in line and "失败" in line for line in alert["lines"]), alert["lines"]
    assert any("简报与民情码未发布" in line for line in alert["lines"]), alert["lines"]
    with psycopg.connect(fresh_warehouse) as conn:
        recorded = conn.execute("select state, summary from ops.pipeline_runs where run_name = %s",
                                (broken.summary["run_id"],)).fetchone()
    assert recorded[0] == "failed" and recorded[1]["failed_tasks"], recorded

    # labels are append-only: the fix is a newer, valid label; the next run publishes again, and its
    # marts are what a full refresh (`minqing rebuild`) builds from the same data
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("""insert into ops.classification_reviews (complaint_id, text_sha256, category_code, reviewed_by)
                        values (%s, 'x', %s, 'a reviewer')""", (complaint_id, category))
        conn.commit()
    fixed = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING),
                                       warehouse_url=fresh_warehouse)
    assert fixed.returncode == 0, fixed.summary or fixed.stderr[-5000:]
    recovered = marts_fingerprint(fresh_warehouse)
    with config.overridden(WAREHOUSE_URL=fresh_warehouse):
        rebuilt = transform.run_dbt("build", "--full-refresh", as_of=orchestration.run_as_of(
            dt.datetime(2026, 7, 7, 6, tzinfo=BEIJING)))
    assert rebuilt.success, rebuilt.failures
    assert marts_fingerprint(fresh_warehouse) == recovered
