"""What the DAG files share, beside them (Airflow puts the DAGs folder on the path): the schedule and
its first day, retries, the published Assets, the warehouse connection and the cosmos task groups of
the dbt project. The DAG files stay thin: they wire tasks that call `minqing.pipeline`. Airflow does
not parse this folder for DAGs (`.airflowignore`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pendulum
from psycopg.conninfo import make_conninfo

from minqing import config
from minqing.orchestration import CONN_ID, daily_run_at, ensure_manifest, manifest_path, run_as_of
from minqing.transform import AS_OF_VARIABLE

log = logging.getLogger(__name__)

# every morning at MINQING_DAILY_RUN_AT (06:00) Beijing time, before the meeting
SCHEDULE_CRON = f"{daily_run_at().minute} {daily_run_at().hour} * * *"
TIME_ZONE = config.BEIJING.key  # the schedule's clock: Beijing time
START_DATE = pendulum.datetime(2026, 6, 1, tz=TIME_ZONE)  # the first day the DAGs may run for
DBT_SCHEMA = "analytics"  # dbt's target schema; models land in staging / intermediate / marts


def mart_asset(name: str):
    from airflow.sdk import Asset

    return Asset(name=f"marts.{name}", uri=f"postgres://warehouse:5432/minqing/marts/{name}", group="minqing_marts")


# The datasets of the Python tasks, as Assets in their inlets and outlets: Airflow's OpenLineage
# provider names them in the tasks' events (README: Lineage), through the converters the postgres and
# common-io providers register for postgres:// and file://. Tables are named as `mart_asset` names a mart.

def table_asset(table: str):
    """A warehouse table, `schema.name` (raw.hotline_work_orders, ops.forecasts)."""
    from airflow.sdk import Asset

    schema, name = table.split(".")
    return Asset(name=table, uri=f"postgres://warehouse:5432/minqing/{schema}/{name}", group=f"minqing_{schema}")


def raw_asset(channel: str):
    """The raw table of a channel, as its contract names it: what its ingest task writes."""
    from ingestion.contracts import CONTRACTS

    return table_asset(CONTRACTS[channel].table)


def landing_asset(channel: str):
    """The landing folder of a channel (its contract's folder under LANDING_DIR): what its ingest task
    reads. Named by its URI: with LANDING_DIR elsewhere it is another Asset (a name kept for a new URI
    makes Airflow deactivate the Asset, and a task with an inactive Asset fails)."""
    from airflow.sdk import Asset

    from ingestion.contracts import CONTRACTS

    return Asset(uri=(config.landing_dir() / CONTRACTS[channel].folder).as_uri(), group="minqing_landing")


def default_args() -> dict:
    return {
        "owner": "minqing",
        "retries": int(config.env("MINQING_TASK_RETRIES") or "2"),
        "retry_delay": dt.timedelta(seconds=int(config.env("MINQING_TASK_RETRY_DELAY") or "120")),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=30),
    }


def deadline_alert():
    """The daily run must be finished by MINQING_DAILY_DEADLINE (08:00 Beijing), the morning after its
    day: a Deadline Alert on the run's logical date (its scheduled start, MINQING_DAILY_RUN_AT) plus
    the time between the two. A missed deadline runs `run_alerts.deadline_missed` in the
    triggerer, which sends the run's alert (backfills of past days are not late: it skips them)."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    from minqing.orchestration import deadline_after_start
    from minqing.run_alerts import deadline_missed

    return DeadlineAlert(reference=DeadlineReference.DAGRUN_LOGICAL_DATE, interval=deadline_after_start(),
                         callback=AsyncCallback(deadline_missed), name="before_dispatch_meeting")


def report_run(context) -> dict:
    """The `report` task: the states of the run's other tasks from Airflow, then
    `run_alerts.report_run`; fails the task (and so the run) when a task failed or a channel is held."""
    from airflow.sdk.exceptions import AirflowFailException

    from minqing import orchestration, run_alerts

    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    outcome = run_alerts.report_run(ti.dag_id, ti.run_id, orchestration.day_of_run(context.get("logical_date")),
                                    states, base_url=ti.log_url.split("/dags/", 1)[0], this_task=ti.task_id)
    if outcome["failed"]:
        raise AirflowFailException(f"{outcome['alert']}: failed tasks {outcome['failed_tasks'] or 'none'}, "
                                   f"held files {outcome['held_file_ids'] or 'none'}")
    return outcome


# the run's as-of moment in every dbt task's environment (MINQING_AS_OF, macros/as_of.sql), rendered per
# run from its logical date (`dbt_task_group` registers run_as_of as the DAG's macro `minqing_as_of`);
# not a dbt var, which would make every task re-parse the project
DBT_ENV = {AS_OF_VARIABLE: "{{ minqing_as_of(logical_date) }}"}


def use_warehouse_connection() -> None:
    """Point the pipeline at the Airflow connection `minqing_warehouse` when there is one and
    WAREHOUSE_URL is not set; without either, the embedded warehouse is used."""
    if config.env("WAREHOUSE_URL"):
        return
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(CONN_ID)
    except Exception:  # noqa: BLE001 - no such connection: the embedded default
        log.info("no Airflow connection %s; using the embedded warehouse", CONN_ID)
        return
    params = {"host": conn.host, "port": conn.port or 5432, "user": conn.login, "dbname": conn.schema}
    if conn.password:
        params["password"] = conn.password
    config.set_for_process("WAREHOUSE_URL", make_conninfo(**{k: v for k, v in params.items() if v}))


def published_marts() -> tuple[str, ...]:
    """The marts the daily DAG publishes as Assets (downstream DAGs are scheduled on them): the models
    whose dbt config says `meta: {published: true}` (dbt_project.yml gives it to models/marts; the same
    flag makes macros/access.sql grant them to the readers), in the manifest's order by name."""
    nodes = json.loads(ensure_manifest().read_text(encoding="utf-8")).get("nodes", {})
    return tuple(sorted(n["name"] for n in nodes.values()
                        if n.get("resource_type") == "model" and (n.get("config", {}).get("meta") or {}).get("published")))


def dbt_task_group(group_id: str, selector: str | None = None, select: list[str] | None = None, **kwargs):
    """The dbt project's nodes of a selector of dbt_project/selectors.yml (or the `select`ed nodes) as
    Airflow tasks, rendered from the manifest: a task per model (and, in watcher mode, per model's
    tests) following one `dbt build` of the selection, or one `dbt build` per model (local mode)."""
    group = _cosmos_task_group(group_id, selector, select, **kwargs)
    group.dag.user_defined_macros = {**(group.dag.user_defined_macros or {}), "minqing_as_of": run_as_of}
    if cosmos_mode() == "watcher":
        _producer_first(group)
    return group


def _producer_first(group) -> None:
    """In a task group cosmos leaves the sensors of the first models unconnected to the build they
    follow (it connects them only in a DbtDag). `dag.test()` runs one task at a time, so a sensor
    picked first would wait for a build that never starts. As cosmos does in a DbtDag: the build is
    upstream of the first models' sensors, which run when it did not fail (`none_failed`: on a retry
    the build is skipped and they read the statuses of its first attempt; a failed model's sensor
    retries by building that model alone). Edges are added; no rendered task is removed."""
    from airflow.sdk import TriggerRule
    from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID

    tasks = {task.task_id: task for task in group.dag.tasks if task.task_id.startswith(f"{group.group_id}.")}
    producer = tasks[f"{group.group_id}.{PRODUCER_WATCHER_TASK_ID}"]
    gateway = f"{group.group_id}.{PRODUCER_WATCHER_DONE_TASK_ID}"
    for task in tasks.values():
        # Every sensor starts after the build has ended, its result already in XCom: nothing to wait
        # for, so no deferral. Deferred, a sensor whose trigger fires at once races the executor under a
        # real scheduler: the sensor of a detached multi-model test (whose result cosmos 1.15.1 looks up
        # under a key the build never writes, so it always deferred) was retried and failed a run.
        if hasattr(task, "deferrable") and task is not producer:
            task.deferrable = False
            task.timeout = SENSOR_TIMEOUT.total_seconds()  # a status that never comes fails, not waits a week
    for task_id, task in tasks.items():
        if task is producer or task_id == gateway or set(task.upstream_task_ids) & set(tasks):
            continue
        producer >> task
        task.trigger_rule = TriggerRule.NONE_FAILED


# The dbt events whose node status cosmos' watcher producer keeps for the model's task (cosmos 1.15:
# `_DBT_EVENT_ALLOWLIST`): NodeFinished and the error events. cosmos 1.15.1 also pushes NodeStart,
# NodeCompiling and NodeExecuting, each to the same XCom key, which the next one overwrites; a model's
# task reads that key only once the node has ended (`poke`, `execute_complete`), so only the last one is
# ever read. Three pushes of four were a request each to the Execution API: 265 nodes, about 8 s of a
# street-day's dbt stage in `dag.test()` (BENCHMARKS.md, stop 36).
WATCHER_NODE_EVENTS = frozenset({"NodeFinished"})


def _node_events_when_finished() -> None:
    """Narrow the events cosmos' watcher producer pushes for a node to WATCHER_NODE_EVENTS and the
    error events, where this cosmos has the allowlist as 1.15 does; otherwise leave it, with a warning."""
    try:
        from cosmos.operators._watcher import base
        errors, node_events = base._DBT_ERROR_EVENTS_TYPES, base._DBT_NODE_STATUS_EVENT_TYPES
    except (ImportError, AttributeError) as exc:
        log.warning("cosmos has no watcher event allowlist as 1.15 had (%s): every node event is pushed", exc)
        return
    if WATCHER_NODE_EVENTS <= node_events:
        base._DBT_EVENT_ALLOWLIST = frozenset(errors | WATCHER_NODE_EVENTS)


COSMOS_MODES = ("watcher", "local")
SENSOR_TIMEOUT = dt.timedelta(minutes=15)


def cosmos_mode() -> str:
    """MINQING_COSMOS_MODE: `watcher` (the default) or `local`."""
    mode = (config.env("MINQING_COSMOS_MODE") or "watcher").strip().lower()
    if mode not in COSMOS_MODES:
        raise ValueError(f"MINQING_COSMOS_MODE is {mode!r}; expected one of {', '.join(COSMOS_MODES)}")
    return mode


def _cosmos_task_group(group_id: str, selector: str | None, select: list[str] | None, **kwargs):
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, SeedRenderingBehavior, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    manifest = manifest_path()
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} is missing: run `minqing dbt-manifest` (or `make install`) first")
    # WATCHER: one `dbt build` of the group's selection (the producer task) with dbt's threads, and per
    # model a task that takes its status — as fast as one build, still a task per model in the UI; a
    # failed model's task retries by building that model alone. LOCAL: one `dbt build` per model task
    # (about a second of start-up each).
    watcher = cosmos_mode() == "watcher"
    if watcher:
        _node_events_when_finished()
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=config.dbt_project_dir(), manifest_path=manifest,
                                     project_name="minqing"),
        profile_config=ProfileConfig(
            profile_name="minqing",
            target_name="default",
            profile_mapping=PostgresUserPasswordProfileMapping(
                conn_id=CONN_ID, profile_args={"schema": DBT_SCHEMA, "threads": config.dbt_threads()}),
        ),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            selector=selector,  # cosmos reads YAML selectors from the manifest (1.15: not only with dbt ls)
            select=select or [],
            # WATCHER: the producer's `dbt build` runs every test; a test task per model follows its
            # tests' results. LOCAL: one `dbt build` per model, its own tests included (half the tasks
            # of a run and a test task per model, each of which pays ~1 s to start, BENCHMARKS.md)
            test_behavior=TestBehavior.AFTER_EACH if watcher else TestBehavior.BUILD,
            # LOCAL: a test reading several models runs in its own task after all of them (a model's own
            # `dbt build` would run it before the other models are built). WATCHER: the one build runs
            # it in dbt's order, and its result counts in its models' test tasks; a task of its own
            # would wait on a status cosmos 1.15.1 never writes for it (`_producer_first`)
            should_detach_multiple_parents_tests=not watcher,
            # WATCHER: the seeds (reference data, loaded by the producer's build with their tests) get
            # no task of their own — 34 tasks fewer, at half a second each in `dag.test()`
            seed_rendering_behavior=SeedRenderingBehavior.NONE if watcher else SeedRenderingBehavior.ALWAYS,
            # cosmos' OpenLineage-style URIs are not valid Airflow 3 Assets (and a socket host has
            # none); the DAG publishes the marts' Assets itself, once they are validated
            emit_datasets=False,
        ),
        operator_args={"install_deps": False, "quiet": True, "env": DBT_ENV},
        **kwargs,
    )
