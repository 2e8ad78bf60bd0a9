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
from minqing.orchestration import CONN_ID, MANIFEST, ensure_manifest, run_as_of

log = logging.getLogger(__name__)

SCHEDULE_CRON = "0 6 * * *"  # every morning at 06:00 Beijing time, before the dispatch meeting
TIME_ZONE = config.BEIJING.key  # the schedule's clock: Beijing time
START_DATE = pendulum.datetime(2026, 6, 1, tz=TIME_ZONE)  # the first day the DAGs may run for
DBT_SCHEMA = "analytics"  # dbt's target schema; models land in staging / intermediate / marts


def mart_asset(name: str):
    from airflow.sdk import Asset

    return Asset(name=f"marts.{name}", uri=f"postgres://warehouse:5432/minqing/marts/{name}", group="minqing_marts")


def default_args() -> dict:
    return {
        "owner": "minqing",
        "retries": int(config.env("MINQING_TASK_RETRIES") or "2"),
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=30),
    }


# dbt's `as_of` in every dbt task, rendered per run from its logical date (`dbt_task_group` registers
# run_as_of as the DAG's macro `minqing_as_of`)
DBT_VARS = {"as_of": "{{ minqing_as_of(logical_date) }}"}


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
    Airflow tasks — one `dbt build` of a model and its tests per task — rendered from the manifest."""
    group = _cosmos_task_group(group_id, selector, select, **kwargs)
    group.dag.user_defined_macros = {**(group.dag.user_defined_macros or {}), "minqing_as_of": run_as_of}
    return group


def _cosmos_task_group(group_id: str, selector: str | None, select: list[str] | None, **kwargs):
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    if not MANIFEST.exists():
        raise FileNotFoundError(f"{MANIFEST} is missing: run `minqing dbt-manifest` (or `make install`) first")
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(dbt_project_path=config.DBT_PROJECT_DIR, manifest_path=MANIFEST,
                                     project_name="minqing"),
        profile_config=ProfileConfig(
            profile_name="minqing",
            target_name="default",
            profile_mapping=PostgresUserPasswordProfileMapping(conn_id=CONN_ID, profile_args={"schema": DBT_SCHEMA}),
        ),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            selector=selector,  # cosmos reads YAML selectors from the manifest (1.15: not only with dbt ls)
            select=select or [],
            # one `dbt build` per model, its own tests included: half the tasks of a run task and a
            # test task per model, each of which pays ~1 s to start (BENCHMARKS.md)
            test_behavior=TestBehavior.BUILD,
            # a test reading several models runs in its own task after all of them
            should_detach_multiple_parents_tests=True,
            # cosmos' OpenLineage-style URIs are not valid Airflow 3 Assets (and a socket host has
            # none); the DAG publishes the marts' Assets itself, once they are validated
            emit_datasets=False,
        ),
        operator_args={"install_deps": False, "quiet": True, "vars": DBT_VARS},
        **kwargs,
    )
