"""Great Expectations (GX Core 1.x) plumbing shared by every suite.

- The file Data Context lives under `$MINQING_HOME/gx` (`gx.get_context(mode="file", …)`). What a run
  needs (its outcome, the quarantine) and what people read is in `ops.validation_runs` /
  `ops.validation_results`; `minqing data-docs` renders them as one self-contained page
  (minqing/publishing/validation_report.py). GX's own Data Docs site is not built: its pages load jQuery,
  Bootstrap and Vega from public CDNs and show nothing on a network without internet (issue 22).
- The warehouse is one GX Postgres data source. Its connection string in great_expectations.yml is
  the placeholder `${MINQING_GX_WAREHOUSE_URL}`; the process fills that variable from
  `minqing.warehouse.url()` (converted to an SQLAlchemy `postgresql+psycopg://` URL), so no
  credential is ever written to the GX project.
- `run_suite` validates the rows of a SELECT in the database: a query asset (re-pointed at the
  run's query), a whole-table batch definition, an ExpectationSuite, a ValidationDefinition and a
  Checkpoint. One process at a time changes and runs the GX
  project (a file lock under `$MINQING_HOME/gx`), so parallel tasks cannot run each other's query.
- `record_run` writes a run to `ops.validation_runs` and each expectation's result to
  `ops.validation_results`; `validate_table` is the helper for suites on dbt marts.

Great Expectations is imported lazily: importing `quality` (e.g. while Airflow parses a DAG) stays cheap.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from minqing import config, warehouse
from quality.suites import Rule, check_name

log = logging.getLogger(__name__)
logging.getLogger("great_expectations").setLevel(logging.WARNING)  # it logs every store write at INFO

DATASOURCE = "warehouse"
URL_VARIABLE = "MINQING_GX_WAREHOUSE_URL"
BATCH_DEFINITION = "all_rows"

_process_lock = threading.RLock()


# --- the connection string ---------------------------------------------------------------------

def sqlalchemy_url(libpq: str) -> str:
    """An SQLAlchemy `postgresql+psycopg://` URL for a libpq URL or key=value connection string.

    A unix-socket directory (`host=/tmp/…`) becomes the `host` query parameter, which the psycopg
    dialect hands to libpq; other libpq parameters (sslmode, options, …) are kept as query parameters.
    """
    from sqlalchemy.engine import URL

    params = {k: v for k, v in conninfo_to_dict(libpq).items() if v not in (None, "")}
    user, password, database = params.pop("user", None), params.pop("password", None), params.pop("dbname", None)
    host, port = params.pop("host", None), params.pop("port", None)
    query = {k: str(v) for k, v in params.items()}
    tcp_host = host if host and not host.startswith("/") and "," not in host else None
    if host and tcp_host is None:
        query["host"] = host
        if port:
            query["port"] = str(port)
        port = None
    url = URL.create("postgresql+psycopg", username=user, password=password, host=tcp_host,
                     port=int(port) if port else None, database=database, query=query)
    return url.render_as_string(hide_password=False)


def project_dir() -> Path:
    """The GX project root: `$MINQING_HOME/gx` (GX keeps its files in a `gx/` folder inside)."""
    return config.home() / "gx"


# --- the Data Context --------------------------------------------------------------------------

@contextmanager
def exclusive() -> Iterator[None]:
    """Hold the GX project for this thread and process: the query assets are shared state."""
    with _process_lock:
        root = project_dir()
        root.mkdir(parents=True, exist_ok=True)
        with open(root / ".minqing.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


_contexts: dict[tuple[str, str | None], Any] = {}  # one Data Context per GX project and warehouse, per process


def get_context(*, bind_warehouse: bool = True):
    """The file Data Context on the GX project under `$MINQING_HOME/gx`. Call it inside `exclusive()`.

    One per process for each project folder and warehouse (reading the project costs a fifth of a
    second, against about 0.3 s for a small validation): a context is never reused for another
    warehouse, so no engine of a previous warehouse serves the next. Within a process the suites,
    validation definitions and checkpoints are written by `run_suite` before each run, so what
    another process wrote under the lock is overwritten, not relied on. With `bind_warehouse`, the
    URL variable names the current warehouse and the data source exists.
    """
    import great_expectations as gx

    url = sqlalchemy_url(warehouse.url()) if bind_warehouse else None
    key = (str(project_dir()), url)
    if url:
        os.environ[URL_VARIABLE] = url
    context = _contexts.get(key)
    if context is None:
        context = gx.get_context(mode="file", project_root_dir=project_dir())
        _quiet(context)
        _contexts[key] = context
    if bind_warehouse and DATASOURCE not in context.data_sources.all():
        context.data_sources.add_postgres(name=DATASOURCE, connection_string="${" + URL_VARIABLE + "}")
    return context


def _quiet(context) -> None:
    """No progress bars in logs, no usage statistics; saved once into great_expectations.yml."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    changed = False
    bars = context.variables.progress_bars
    if bars is None or getattr(bars, "globally", True):
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    if context.config.analytics_enabled is not False:
        context.config.analytics_enabled = False
        changed = True
    if changed:
        context.variables.save()


def _query_asset(context, name: str, query: str):
    """The query asset `name`, pointing at `query` (updated in great_expectations.yml when it changes)."""
    datasource = context.data_sources.get(DATASOURCE)
    try:
        asset = datasource.get_asset(name)
    except LookupError:
        asset = datasource.add_query_asset(name=name, query=query)
    if asset.query != query:
        asset.query = query
        context.data_sources.update_postgres(datasource)
    asset = context.data_sources.get(DATASOURCE).get_asset(name)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_table(BATCH_DEFINITION)


# --- expectations from data --------------------------------------------------------------------

def to_expectation(item):
    """A GX Expectation from a `Rule`, a `{"type": …, "kwargs": …}` dict, or an Expectation as is."""
    import great_expectations.expectations as gxe

    if isinstance(item, gxe.Expectation):
        return item
    if isinstance(item, Rule):
        kind, kwargs, meta = item.type, dict(item.kwargs), {"quarantine_reason": item.reason} if item.reason else {}
    elif isinstance(item, dict) and "type" in item:
        kind, kwargs, meta = item["type"], dict(item.get("kwargs", {})), dict(item.get("meta", {}))
    else:
        raise TypeError(f"not an expectation: {item!r}; give a Rule, a {{'type', 'kwargs'}} dict or a GX Expectation")
    class_name = "".join(part.capitalize() for part in kind.split("_"))
    expectation_class = getattr(gxe, class_name, None)
    if expectation_class is None:
        raise ValueError(f"Great Expectations has no expectation {kind!r} (class {class_name})")
    return expectation_class(**kwargs, meta=meta or None)


# --- running a suite ---------------------------------------------------------------------------

@dataclass
class ExpectationOutcome:
    """One expectation's result, as the pipeline needs it."""

    type: str
    columns: tuple[str, ...]
    kwargs: dict
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    unexpected_rows: list[dict] | None = None  # unexpected_index_list: key columns + checked values
    exception: str | None = None

    @property
    def check_name(self) -> str:
        return check_name(self.type, self.columns)


@dataclass
class SuiteRun:
    """What Great Expectations made of one suite on one batch."""

    suite_name: str
    success: bool
    evaluated: int
    successful: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    started_at: dt.datetime | None = None
    seconds: float = 0.0
    gx_run: str = ""  # run name and time, as in GX's validation store

    def counted(self, rows: int) -> SuiteRun:
        """This passing run of column-map expectations (a BOOLEAN_ONLY result carries no counts) with the
        counts a fuller result format gives: `rows` elements each, none unexpected."""
        if not self.success:
            raise ValueError("only a passing run's counts are known without listing them")
        outcomes = [replace(o, element_count=rows if o.element_count is None else o.element_count,
                            unexpected_count=0 if o.unexpected_count is None else o.unexpected_count,
                            unexpected_percent=0.0 if o.unexpected_percent is None else o.unexpected_percent)
                    for o in self.outcomes]
        return replace(self, outcomes=outcomes)


def run_suite(suite_name: str, asset_name: str, query: str, expectations: Iterable, *, run_name: str,
              result_format: dict | str = "SUMMARY", expectation_parameters: dict | None = None) -> SuiteRun:
    """Validate the rows of `query` in the warehouse against `expectations`, through a Checkpoint.

    The suite, the validation definition and the checkpoint are named `suite_name` and kept in the
    GX project (updated when the expectations or the result format change); the result is stored
    in the GX validation store.
    """
    import great_expectations as gx

    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    with exclusive():
        context = get_context()
        batch_definition = _query_asset(context, asset_name, query)
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=suite_name, expectations=[to_expectation(e) for e in expectations]))
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite))
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(name=suite_name, validation_definitions=[validation], actions=[],
                          result_format=result_format))
        run_id = gx.RunIdentifier(run_name=run_name, run_time=started)
        result = checkpoint.run(expectation_parameters=expectation_parameters or {}, run_id=run_id)
    ((_, validation_result),) = result.run_results.items()
    outcomes = [_outcome(r) for r in validation_result.results]
    statistics = validation_result.statistics
    return SuiteRun(
        suite_name=suite_name,
        success=bool(validation_result.success),
        evaluated=int(statistics.get("evaluated_expectations", len(outcomes))),
        successful=int(statistics.get("successful_expectations", sum(o.success for o in outcomes))),
        outcomes=outcomes,
        started_at=started,
        seconds=time.perf_counter() - clock,
        gx_run=f"{run_name} @ {started.isoformat()}",
    )


def _outcome(result) -> ExpectationOutcome:
    configuration = result.expectation_config
    kwargs = {k: v for k, v in dict(configuration.kwargs).items() if k != "batch_id"}
    details = dict(result.result or {})
    exception = _exception_message(result.exception_info)
    if "column" in kwargs:
        columns: tuple[str, ...] = (kwargs["column"],)
    elif "column_A" in kwargs:
        columns = (kwargs["column_A"], kwargs["column_B"])
    else:
        columns = tuple(kwargs.get("column_list", ()))
    return ExpectationOutcome(
        type=configuration.type,
        columns=columns,
        kwargs=kwargs,
        success=bool(result.success),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        observed_value=details.get("observed_value"),
        unexpected_rows=details.get("unexpected_index_list"),
        exception=exception,
    )


def _exception_message(info) -> str | None:
    """GX reports one exception as {raised_exception, exception_message, …}, several keyed by metric."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    messages = [v.get("exception_message") for v in info.values()
                if isinstance(v, dict) and v.get("raised_exception")]
    return "; ".join(m for m in messages if m) or None


# --- ops.validation_runs / ops.validation_results ----------------------------------------------

def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def record_run(conn: psycopg.Connection, *, run_name: str, target: str, batch: dict, run: SuiteRun,
               rows_checked: int | None, rows_quarantined: int = 0) -> int:
    """Store a run and each expectation's result; returns the run id. The caller owns the transaction."""
    run_id = conn.execute(
        """insert into ops.validation_runs
               (run_name, suite_name, target, batch, success, evaluated, successful, rows_checked,
                rows_quarantined, started_at)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning run_id""",
        (run_name, run.suite_name, target, Jsonb(batch), run.success, run.evaluated, run.successful,
         rows_checked, rows_quarantined, run.started_at or dt.datetime.now(dt.timezone.utc)),
    ).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(
            """insert into ops.validation_results
                   (run_id, expectation_type, column_name, kwargs, success, element_count, unexpected_count,
                    unexpected_percent, observed_value)
               values (%s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s::jsonb)""",
            [(run_id, o.type, ", ".join(o.columns) or None, _json(o.kwargs), o.success, o.element_count,
              o.unexpected_count, o.unexpected_percent,
              None if o.observed_value is None else _json(o.observed_value)) for o in run.outcomes],
        )
    return run_id


def record_crash(*, run_name: str, suite_name: str, target: str, batch: dict, started_at: dt.datetime,
                 error: BaseException) -> int | None:
    """Store a run that did not finish (success false, nothing evaluated), so that it is on record."""
    batch = {**batch, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:500] if str(error) else ''}"}
    try:
        with warehouse.connect() as conn:
            return record_run(conn, run_name=run_name, target=target, batch=batch,
                              run=SuiteRun(suite_name, False, 0, 0, started_at=started_at), rows_checked=None)
    except Exception:  # the warehouse itself may be what failed; the original error matters more
        log.warning("could not record the failed validation run of %s", suite_name, exc_info=True)
        return None


# --- suites on dbt marts -----------------------------------------------------------------------

@dataclass
class TableValidation:
    """The outcome of a suite on a whole table (no quarantine: marts are rebuilt, not repaired)."""

    target: str
    suite_name: str
    run_name: str
    run_id: int | None
    success: bool
    evaluated: int
    successful: int
    rows_checked: int
    outcomes: list[ExpectationOutcome]
    seconds: float

    @property
    def failures(self) -> list[str]:
        return [f"{o.check_name}: {o.unexpected_count or 0} unexpected" + (f" ({o.exception})" if o.exception else "")
                for o in self.outcomes if not o.success]


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def validate_table(schema: str, table: str, suite_name: str, expectations: Iterable, run_name: str,
                   file_column: str | None = None, after_file_id: int | None = None) -> TableValidation:
    """Validate a table (e.g. a dbt mart) in the warehouse and store the results in ops: the whole
    table, or with `file_column` and `after_file_id` only its rows from files newer than that one
    (a large incremental fact table, whose older rows were validated when they came).

    `expectations` are `Rule`s, `{"type": "expect_…", "kwargs": {…}}` dicts or GX Expectations.
    """
    for name in (schema, table, *([file_column] if file_column else [])):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a plain SQL identifier")
    target = f"{schema}.{table}"
    query = f'select * from "{schema}"."{table}"'
    batch = {"table": target}
    if file_column is not None and after_file_id is not None:
        query += f' where "{file_column}" > {int(after_file_id)}'
        batch.update(file_column=file_column, after_file_id=int(after_file_id))
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.perf_counter()
    expectations = list(expectations)
    try:
        with warehouse.connect() as conn:
            rows = conn.execute(f"select count(*) from ({query}) as batch").fetchone()[0]
        run = run_suite(suite_name, f"{schema}__{table}", query, expectations, run_name=run_name,
                        result_format="SUMMARY")
        with warehouse.connect() as conn, conn.transaction():
            run_id = record_run(conn, run_name=run_name, target=target, batch=batch, run=run, rows_checked=rows)
    except Exception as exc:
        record_crash(run_name=run_name, suite_name=suite_name, target=target, batch=batch,
                     started_at=started, error=exc)
        raise
    return TableValidation(target, suite_name, run_name, run_id, run.success, run.evaluated, run.successful, rows,
                           run.outcomes, time.perf_counter() - clock)
