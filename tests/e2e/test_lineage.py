"""OpenLineage: a run of the daily DAG writes its tasks' events (Airflow's OpenLineage provider, and
cosmos for the dbt build), and they name the raw tables read and the marts written (README: Lineage)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from ingestion.contracts import CONTRACTS
from minqing import config, orchestration
from minqing.config import BEIJING
from minqing.devtools.generate import generate

RAW_TABLES = sorted(contract.table for contract in CONTRACTS.values())


def _names(events: list[dict], side: str) -> set[str]:
    """`schema.table` of every dataset on one side (inputs, outputs) of the events: OpenLineage names
    a Postgres table `database.schema.table`."""
    return {".".join(d["name"].split(".")[-2:]) for e in events for d in e.get(side) or []}


def test_local_runs_write_events_to_a_file_unless_a_transport_is_configured(monkeypatch):
    for name in ("AIRFLOW__OPENLINEAGE__TRANSPORT", "AIRFLOW__OPENLINEAGE__NAMESPACE", "OPENLINEAGE_URL",
                 "OPENLINEAGE_CONFIG", "OPENLINEAGE__TRANSPORT__TYPE", "OPENLINEAGE_NAMESPACE",
                 "AIRFLOW__OPENLINEAGE__CONFIG_PATH", "AIRFLOW__OPENLINEAGE__CONFIG_CONN_ID",
                 "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"):
        monkeypatch.delenv(name, raising=False)
    env = orchestration.airflow_env()
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport == {"type": "file", "log_file_path": str(config.home() / "lineage" / "openlineage.jsonl"),
                         "append": True}
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "minqing"
    assert env["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] == "True"  # no fork of the task's process an event
    monkeypatch.setenv("OPENLINEAGE_URL", "http://marquez:5000")  # the user's own: not overridden
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "elsewhere")
    env = orchestration.airflow_env()
    assert "AIRFLOW__OPENLINEAGE__TRANSPORT" not in env and "AIRFLOW__OPENLINEAGE__NAMESPACE" not in env


@pytest.mark.slow
def test_a_runs_events_name_the_raw_tables_read_and_the_marts_written(fresh_warehouse, tmp_path, monkeypatch):
    """One daily run (`dag.test()`, the OpenLineage listener in its process) with the file transport
    pointed at a file of the test's: every task's START and COMPLETE, the Python tasks' Assets as
    datasets, and the dbt builds' datasets from cosmos (its producer tasks; the model tasks name none)."""
    landing = tmp_path / "landing"
    generate(landing, days=3, seed=5, per_day=20, start=dt.date(2026, 7, 1))
    monkeypatch.setenv("LANDING_DIR", str(landing))
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}

    started = time.perf_counter()
    run = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 4, 6, tzinfo=BEIJING),
                                     env=orchestration.dag_test_env(fresh_warehouse, extra={
                                         "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport)}))
    assert run.returncode == 0, (run.stdout + run.stderr)[-5000:]
    print(f"{run.line()}; with the test's set-up {time.perf_counter() - started:.0f} s")

    assert events_file.exists(), "no OpenLineage event written: is the provider's listener loaded?"
    events = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_task: dict[str, list[dict]] = {}
    for event in events:
        assert event["job"]["namespace"] == "minqing"
        by_task.setdefault(event["job"]["name"], []).append(event)

    # every task of the run: a START and a COMPLETE event, the Python tasks and the dbt ones alike
    python_tasks = [f"{step}_{channel}" for channel in CONTRACTS for step in ("ingest", "validate")]
    python_tasks += ["classify", "forecast", "publish", "report"]
    dbt_tasks = ["dbt_build.dbt_producer_watcher", "dbt_build.fct_complaints.run",
                 "dbt_after_forecast.dbt_producer_watcher", "dbt_after_forecast.rpt_dispatch_briefing.run"]
    for task_id in python_tasks + dbt_tasks:
        kinds = {e["eventType"] for e in by_task.get(f"minqing_daily.{task_id}", [])}
        assert {"START", "COMPLETE"} <= kinds, (task_id, kinds, sorted(by_task))
    completes = {name: [e for e in found if e["eventType"] == "COMPLETE"] for name, found in by_task.items()}

    def task(task_id: str) -> list[dict]:
        return completes[f"minqing_daily.{task_id}"]

    # the Python tasks: their Assets (inlets, outlets) as datasets
    for channel, contract in CONTRACTS.items():
        ingest = task(f"ingest_{channel}")
        assert _names(ingest, "outputs") == {contract.table}
        assert {d["name"] for e in ingest for d in e["inputs"]} == {str(landing.resolve() / contract.folder)}
        assert _names(task(f"validate_{channel}"), "inputs") == {contract.table}
    assert _names(task("classify"), "inputs") == set(RAW_TABLES)
    published = _names(task("publish"), "outputs")
    assert {"marts.fct_complaints", "marts.rpt_dispatch_briefing"} <= published

    # the dbt builds (cosmos): the raw tables the staging models read (the dbt sources), the marts built
    first, second = task("dbt_build.dbt_producer_watcher"), task("dbt_after_forecast.dbt_producer_watcher")
    assert set(RAW_TABLES) <= _names(first, "inputs")
    assert "marts.fct_complaints" in _names(first, "outputs")
    assert "marts.rpt_dispatch_briefing" in _names(second, "outputs")
