"""Airflow from the library's side: the DAG ids, the day a DAG run works on, dbt's manifest (the one
build, for `make install`, the image and the DAGs) and local runs of the DAGs. The glue the DAG files
use (schedule, retries, Assets, the warehouse connection, cosmos task groups) is `dags/_minqing/`,
beside them.

Local runs (`minqing airflow test`, `make demo`) use `airflow_env()`: Airflow's metadata in SQLite
under $MINQING_HOME/airflow and the connection `minqing_warehouse` pointing at the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from minqing import config

log = logging.getLogger(__name__)

CONN_ID = config.env("MINQING_AIRFLOW_CONN_ID") or "minqing_warehouse"
DAILY_DAG_ID = "minqing_daily"


def manifest_path() -> Path:
    """dbt's manifest the DAGs render from: in the target folder of the project dbt runs (config.dbt_project_dir)."""
    return config.dbt_project_dir() / "target" / "manifest.json"


def _parsed_with() -> Path:
    """Where the manifest's parse recorded the reference folder it read."""
    return manifest_path().with_name("manifest.reference")

BRIEFING_DAG_ID = "minqing_briefing"


def day_of_run(logical_date: dt.datetime | None) -> dt.date:
    """The Beijing day a run works on: the day before the morning it runs (its exports came overnight)."""
    moment = logical_date or dt.datetime.now(config.BEIJING)
    # through the timestamp: Airflow hands over a pendulum DateTime, whose arithmetic after
    # astimezone(ZoneInfo) drops the zone (07-07 06:00 Beijing minus a day came out as 07-05)
    local = dt.datetime.fromtimestamp(moment.timestamp(), config.BEIJING)
    return local.date() - dt.timedelta(days=1)


def _clock(variable: str, default: str) -> dt.time:
    value = config.env(variable) or default
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{variable} is {value!r}; expected a Beijing time as HH:MM") from None


def daily_run_at() -> dt.time:
    """The Beijing time the daily DAG runs every morning (MINQING_DAILY_RUN_AT, 06:00)."""
    return _clock("MINQING_DAILY_RUN_AT", "06:00")


def daily_deadline() -> dt.time:
    """The Beijing time the daily run must have finished by (MINQING_DAILY_DEADLINE, 08:00): the
    first such time after the run's start, so a deadline earlier on the clock is the next day's."""
    return _clock("MINQING_DAILY_DEADLINE", "08:00")


def deadline_after_start() -> dt.timedelta:
    """How long after its scheduled start the daily run must be finished."""
    day = dt.date(2000, 1, 1)
    gap = dt.datetime.combine(day, daily_deadline()) - dt.datetime.combine(day, daily_run_at())
    return gap if gap > dt.timedelta(0) else gap + dt.timedelta(days=1)


def logical_date_for(day: dt.date) -> dt.datetime:
    """The logical date of the scheduled run that works on `day`: the run time the morning after."""
    return dt.datetime.combine(day + dt.timedelta(days=1), daily_run_at(), config.BEIJING)


def run_as_of(logical_date: dt.datetime | None) -> str:
    """The moment a run builds its marts as of: the end of its day (MINQING_AS_OF of its dbt tasks)."""
    from minqing.pipeline import as_of_for

    return as_of_for(day_of_run(logical_date))


# --- dbt through cosmos -------------------------------------------------------------------------

def dbt_parse_env() -> dict[str, str]:
    """`dbt parse` reads profiles.yml but connects to nothing: placeholders are enough."""
    return {"MINQING_PG_HOST": "localhost", "MINQING_PG_USER": "parse", "MINQING_PG_DBNAME": "parse"}


def manifest_is_stale() -> bool:
    manifest = manifest_path()
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    parsed_with = _parsed_with().read_text(encoding="utf-8") if _parsed_with().exists() else ""
    if parsed_with != str(config.reference_dir()):
        return True  # parsed with another reference folder (MINQING_REFERENCE_DIR changed)
    sources = [config.DBT_PROJECT_DIR / "dbt_project.yml", config.DBT_PROJECT_DIR / "selectors.yml"]
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        sources += [p for p in (config.DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()]
    sources += [config.seed_path(name) for name in config.REFERENCE_SEEDS]
    return any(p.stat().st_mtime > built for p in sources)


def ensure_manifest() -> Path:
    """Build dbt's manifest (dbt parse, no database) when it is missing or older than the project.

    The DAG renders its dbt tasks from this file, so parsing the DAG folder never runs dbt.
    """
    if manifest_is_stale():
        log.info("building the dbt manifest")
        subprocess.run(
            # no partial parsing: it keeps an older selectors.yml (a new selector is not in the manifest)
            [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "parse", "--quiet", "--no-partial-parse",
             "--project-dir", str(config.dbt_project_dir()), "--profiles-dir", str(config.dbt_project_dir()),
             "--target-path", str(manifest_path().parent)],
            check=True, env={**os.environ, **dbt_parse_env()},
        )
        _parsed_with().write_text(str(config.reference_dir()), encoding="utf-8")
    return manifest_path()


# --- local Airflow --------------------------------------------------------------------------------

# cosmos' watcher producer, as the DAGs run it (docker-compose.yml sets the same): its statuses are kept
# in XCom alone, not also written again, whole, into an Airflow Variable on every XCom push (cosmos'
# "reliable retry"). That rewrite costs a request per push and grows with the pushes made, about 10 s
# of a street-day's 34 s dbt stage in `dag.test()` (BENCHMARKS.md, stop 36). A producer that fails
# still saves its statuses once, in its failure and retry callbacks, and its retry restores them; one
# killed outright (SIGKILL, out of memory) saves none, and its models' tasks build each model alone.
COSMOS_WATCHER_SETTINGS = {"AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False"}


def airflow_env(warehouse_url: str | None = None) -> dict[str, str]:
    """Environment for running the project's DAGs locally: SQLite metadata under $MINQING_HOME."""
    from minqing import warehouse

    home = config.home() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    url = warehouse_url or warehouse.url()
    params = conninfo_to_dict(url)
    connection = {
        "conn_type": "postgres",
        "host": params.get("host"),
        "port": int(params.get("port") or 5432),
        "login": params.get("user"),
        # cosmos requires a password; the embedded server trusts local connections and ignores it
        "password": params.get("password") or "embedded-trust",
        "schema": params.get("dbname"),
    }
    # the tasks' OpenLineage events (README: Lineage): one JSON event a line in a file under
    # $MINQING_HOME, unless the user configured where they go (Airflow's or OpenLineage's variables,
    # read through config like any value that may hold a secret: an http transport's API key)
    def given(*names: str) -> bool:
        return any(config.secret_from(name) for name in names)

    lineage = {}
    if not given("AIRFLOW__OPENLINEAGE__TRANSPORT", "AIRFLOW__OPENLINEAGE__CONFIG_PATH",
                 "AIRFLOW__OPENLINEAGE__CONFIG_CONN_ID", "OPENLINEAGE_URL", "OPENLINEAGE_CONFIG",
                 "OPENLINEAGE__TRANSPORT__TYPE"):
        events = config.home() / "lineage" / "openlineage.jsonl"
        events.parent.mkdir(parents=True, exist_ok=True)  # the file transport does not create it
        lineage["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True})
    if not given("AIRFLOW__OPENLINEAGE__NAMESPACE", "OPENLINEAGE_NAMESPACE"):
        lineage["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "minqing"
    # an event from a thread of the task's process, not a fork of it: `dag.test()` runs every task in
    # one large process, whose ~145 forks a run cost ~18 s (a quarter of the run); threads ~1 s
    if not given("AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"):
        lineage["AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD"] = "True"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        # plain text: the output of a local run is captured and shown when it fails
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "DBT_USE_COLORS": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",  # no calls home from a closed network
        # the selectors are parsed in the manifest already: no Airflow Variable written at parse time
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_YAML_SELECTORS": "False",
        **COSMOS_WATCHER_SETTINGS,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
        "WAREHOUSE_URL": url,
        "MINQING_HOME": str(config.home()),
        "MINQING_TASK_RETRIES": config.env("MINQING_TASK_RETRIES") or "0",
        **lineage,
    }


def dag_test_env(warehouse_url: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a local `dag.test()` run (`extra` on top), with the dbt manifest built and
    Airflow's metadata database migrated."""
    ensure_manifest()
    env = {**os.environ, **airflow_env(warehouse_url), **(extra or {})}
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    if not db.exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       capture_output=True, timeout=600)
    return env


# The line of the `dag.test()` child's stdout that sums its DAG run up for the parent: the marker, then JSON.
DAG_RUN_MARKER = "MINQING_DAG_RUN "


class DagTestRun(subprocess.CompletedProcess):
    """The finished `dag.test()` process (returncode, stdout, stderr as subprocess.run gives them) and
    `summary`: what its DAG run came to, from the child's marker line — dag_id, run_id, logical_date,
    day (the run's data day, `day_of_run`), state, tasks (task instances), task_states (count per
    state), succeeded, failed (failed and upstream_failed), skipped, failed_tasks (the failed ones' ids),
    unfinished (task id → state of those neither succeeded, skipped nor failed: upstream_failed, …),
    seconds (wall clock of dag.test()) — or None when the child printed none (it crashed first)."""

    summary: dict | None = None

    def line(self, *, day: bool = True) -> str:
        """One line for people: `minqing_daily 2026-07-30: success, 57 tasks, 2 min 10 s` (`day`: the
        run's data day after the DAG's name); the tasks that did not succeed, skipped ones aside, in brackets."""
        s = self.summary
        if not s:
            return f"{self.args[3] if len(self.args) > 3 else 'dag'}: no summary (exit code {self.returncode})"
        name = f"{s['dag_id']} {s['day']}" if day and s.get("day") else s["dag_id"]
        others = [f"{n} {state}" for state, n in sorted(s.get("task_states", {}).items())
                  if state not in ("success", "skipped")]
        detail = f" ({', '.join(others)})" if others else ""
        tasks = f"{s['tasks']} task{'' if s['tasks'] == 1 else 's'}"
        return f"{name}: {s['state']}, {tasks}{detail}, {_duration(s.get('seconds'))}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "? s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def run_dag_test(dag_id: str, logical_date: dt.datetime, *, warehouse_url: str | None = None,
                 timeout: int = 1800, env: dict[str, str] | None = None) -> DagTestRun:
    """Run a DAG end to end with `dag.test()` in a fresh process (Airflow reads its settings at import);
    `env`: one from `dag_test_env`, when the caller needs more than the warehouse's. The result is the
    CompletedProcess with the run's `summary` (DagTestRun)."""
    env = env or dag_test_env(warehouse_url)
    done = subprocess.run(
        [sys.executable, "-m", "minqing.orchestration", dag_id, logical_date.isoformat()],
        env=env, timeout=timeout, text=True, capture_output=True,
    )
    result = DagTestRun(done.args, done.returncode, done.stdout, done.stderr)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(DAG_RUN_MARKER):
            try:
                result.summary = json.loads(line[len(DAG_RUN_MARKER):])
            except ValueError:
                log.warning("unreadable DAG run summary: %s", line[:200])
            break
    return result


def _dag_test_main(dag_id: str, logical_date: str) -> int:
    import time

    from airflow.configuration import conf as airflow_conf
    from airflow.dag_processing.dagbag import BundleDagBag

    moment = dt.datetime.fromisoformat(logical_date)
    summary = {"dag_id": dag_id, "run_id": None, "logical_date": logical_date,
               "day": day_of_run(moment).isoformat(), "state": "import_errors",
               "tasks": 0, "task_states": {}, "succeeded": 0, "failed": 0, "skipped": 0, "failed_tasks": [],
               "unfinished": {},
               "seconds": 0.0}

    def report(code: int) -> int:
        print(DAG_RUN_MARKER + json.dumps(summary, ensure_ascii=False), flush=True)
        return code

    # as Airflow's own processes do: the DAGs folder (the bundle) on the path, for dags/_minqing
    folder = Path(airflow_conf.get("core", "dags_folder"))
    bag = BundleDagBag(dag_folder=folder, bundle_path=folder)
    if bag.import_errors:
        print(json.dumps(bag.import_errors, indent=2), file=sys.stderr)
        return report(2)
    dag = bag.get_dag(dag_id)
    # Deadlines are the scheduler's (tests/e2e/test_scheduler.py): Airflow 3.3's dag.test() ends a
    # successful run by looking the DAG's deadline alerts up by id, and its DAG holds the alerts
    # themselves (a failed SELECT on deadline_alert, the run in error)
    dag.deadline = None
    started = time.perf_counter()
    try:
        run = dag.test(logical_date=moment)
    except BaseException as exc:
        summary.update(state="error", error=f"{type(exc).__name__}: {exc}"[:2000],
                       seconds=round(time.perf_counter() - started, 1))
        report(1)
        raise
    summary["seconds"] = round(time.perf_counter() - started, 1)
    state = getattr(run, "state", None)
    state = str(getattr(state, "value", state) or "")
    summary.update(state=state, run_id=getattr(run, "run_id", None))
    if getattr(run, "logical_date", None) is not None:
        summary.update(logical_date=run.logical_date.isoformat(), day=day_of_run(run.logical_date).isoformat())
    try:
        instances = run.get_task_instances()
    except Exception as exc:  # noqa: BLE001 - the summary is a report; the run's state above is what counts
        log.warning("could not read the task instances of %s: %s", dag_id, exc)
        instances = []
    states: dict[str, int] = {}
    for ti in instances:
        name = str(getattr(ti.state, "value", ti.state) or "none")
        states[name] = states.get(name, 0) + 1
    summary.update(tasks=len(instances), task_states=states, succeeded=states.get("success", 0),
                   failed=states.get("failed", 0) + states.get("upstream_failed", 0),
                   skipped=states.get("skipped", 0),
                   failed_tasks=sorted(ti.task_id for ti in instances
                                       if str(getattr(ti.state, "value", ti.state)) == "failed"),
                   unfinished={ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in instances
                               if str(getattr(ti.state, "value", ti.state)) not in ("success", "skipped", "failed")})
    print(f"dag {dag_id} run {logical_date}: {state}")
    return report(0 if state.endswith("success") else 1)


if __name__ == "__main__":
    sys.exit(_dag_test_main(sys.argv[1], sys.argv[2]))
