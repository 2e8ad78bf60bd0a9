"""The pipeline's steps as plain functions: `minqing run` calls them in order, and the Airflow DAG
wires the same functions as tasks. Each step is idempotent: running it again on the same data
leaves the warehouse as it was.

    ingest (per channel) -> validate (per channel) -> classify -> dbt build -> forecast
        -> dbt build of the early warnings -> validate marts
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minqing import config, transform, warehouse

log = logging.getLogger(__name__)

CHANNELS = ("hotline", "miniprogram", "reception")


def ingest_channel(channel: str, landing: str | Path | None = None, day: dt.date | None = None) -> list[dict]:
    """Load the channel's new files (those covering `day`, if given); one report per file seen."""
    from ingestion.loader import ingest

    warehouse.migrate()
    reports = ingest(config.landing_dir(landing), channels=[channel], day=day, progress=False)
    return [r.as_json() for r in reports]


def files_awaiting_validation(channel: str) -> list[int]:
    """The channel's loaded files that no channel suite has passed yet: this run's, and any that an
    earlier `minqing ingest` alone or a run whose validation failed or broke left unchecked."""
    with warehouse.connect() as conn:
        return [file_id for (file_id,) in conn.execute(
            """select file_id from ops.ingested_files
                where channel = %s and validated_at is null and rows_loaded > 0 order by file_id""",
            (channel,))]


def validate_channel(channel: str, run_name: str) -> dict:
    """GX suite of the channel on every loaded file awaiting validation; raises when the batch fails
    as a whole (its files then stay awaiting validation, and the next run checks them again)."""
    from quality import validate_channel as run

    outcome = run(channel, files_awaiting_validation(channel), run_name)
    summary = asdict(outcome)
    if outcome.failed:
        raise ChannelFailed(channel, outcome.problems or [outcome.error or "validation failed"], summary)
    return summary


class ChannelFailed(RuntimeError):
    def __init__(self, channel: str, problems: list[str], summary: dict):
        super().__init__(f"channel {channel} failed validation: {'; '.join(problems)}")
        self.summary = summary


def classify() -> int:
    """Classify every complaint text not yet classified by the current rules."""
    from minqing.classifier import classify_pending

    with warehouse.connect() as conn:
        count = classify_pending(conn)
        conn.commit()
    return count


# The models that read the forecast (the sentiment code's forecast component, the early warnings, the
# briefing) and everything downstream of them: built after the forecast step, from its output.
AFTER_FORECAST = "source:forecast.forecasts+"
FORECAST_SOURCE = "source.minqing.forecast.forecasts"


def build_marts(as_of: str | None = None) -> dict:
    """dbt build of everything the forecast does not feed."""
    outcome = transform.build(as_of=as_of, exclude=AFTER_FORECAST)
    if not outcome.success:
        raise RuntimeError("dbt build failed: " + "; ".join(f"{f['node']}: {f['message']}" for f in outcome.failures))
    return {"nodes": len(outcome.results)}


def forecast() -> dict:
    """Forecast the next 7 days per community × category (reads the freshly built daily facts)."""
    from minqing.forecast import forecast_step

    return forecast_step()


def build_after_forecast(as_of: str | None = None) -> dict:
    """dbt build of the models that read the forecast, and of their tests."""
    outcome = transform.build(as_of=as_of, select=AFTER_FORECAST)
    if not outcome.success:
        raise RuntimeError("dbt build after the forecast failed: " +
                           "; ".join(f"{f['node']}: {f['message']}" for f in outcome.failures))
    return {"nodes": len(outcome.results)}


def publish_briefing(out_dir: str | Path | None = None, briefing_date: dt.date | None = None) -> dict:
    """Render the dispatch briefing (default: the newest) to the briefing folder: HTML, CSV tables,
    and a PDF where a Chromium is installed."""
    from minqing import briefing

    written = briefing.write(briefing_date, config.briefing_dir(out_dir))
    return {key: str(path) if path else None for key, path in written.items()}


def validate_marts(run_name: str) -> dict:
    from quality.marts import validate_marts as run

    results = run(run_name)
    failed = {table: r.failures for table, r in results.items() if not r.success}
    if failed:
        raise RuntimeError(f"mart validation failed: {failed}")
    return {table: r.success for table, r in results.items()}


@dataclass
class RunSummary:
    run_name: str
    files: list[dict] = field(default_factory=list)
    validation: dict = field(default_factory=dict)
    failed_channels: dict = field(default_factory=dict)
    classified: int = 0
    dbt_nodes: int = 0
    forecast: dict = field(default_factory=dict)
    marts_valid: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)  # wall time per stage

    def lines(self) -> list[str]:
        loaded = sum(f["rows_loaded"] for f in self.files)
        quarantined = sum(f["rows_quarantined"] for f in self.files)
        moved = sum(v.get("rows_quarantined", 0) for v in self.validation.values())
        lines = [
            f"ingest:   {len(self.files)} files, {loaded} rows loaded, {quarantined} quarantined",
            f"validate: {', '.join(f'{c} ok' for c in self.validation) or 'nothing new'}"
            f"{'; ' + str(moved) + ' rows moved to quarantine' if moved else ''}",
        ]
        for channel, reason in self.failed_channels.items():
            lines.append(f"          {channel} FAILED and was stopped: {reason}")
        for f in self.files:
            if f["status"] == "unreadable":
                lines.append(f"          {f['file']} UNREADABLE: {f['reason']}")
        lines += [
            f"classify: {self.classified} new texts",
            f"dbt:      {self.dbt_nodes} nodes built and tested",
            f"forecast: {self.forecast.get('pairs', 0)} community × category pairs as of {self.forecast.get('as_of')}, "
            f"{self.forecast.get('early_warnings', 0)} early warnings",
            f"marts:    {', '.join(f'{t} ok' for t in self.marts_valid)}",
            f"time:     {', '.join(f'{stage} {seconds:.1f} s' for stage, seconds in self.seconds.items())}",
        ]
        return lines


# Session-level advisory lock held by `run` for its whole length (warehouse.MIGRATION_LOCK is 7_204_301).
RUN_LOCK = 7_204_302


@contextlib.contextmanager
def exclusive_run():
    """Hold the warehouse's run lock on a connection of its own while the block runs.

    One key for every run, whatever its date: two runs of different days would still swap the same
    mart tables under each other in dbt. A second run WAITS (blocking `pg_advisory_lock`) and then
    does its work on what the first one left: its files are duplicates and its dbt build rebuilds
    the same marts, so two runs started together end as one clean run would, one after the other.
    The lock goes with the session, so a run that dies (even kill -9) releases it. Runs of the
    Airflow DAG do not take it: its tasks are separate processes, and `max_active_runs=1` keeps
    its runs apart.
    """
    with warehouse.connect(autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()[0]:
            holder = conn.execute(
                "select string_agg(pid::text, ', ') from pg_locks where locktype = 'advisory' and granted "
                "and database = (select oid from pg_database where datname = current_database()) "
                "and classid = 0 and objid = %s and objsubid = 1", (RUN_LOCK,)).fetchone()[0]
            log.warning("another pipeline run holds the warehouse (backend %s); waiting for it to end", holder)
            conn.execute("select pg_advisory_lock(%s)", (RUN_LOCK,))
        yield  # closing the connection releases the lock


def run(landing: str | Path | None = None, day: dt.date | None = None, as_of: str | None = None) -> RunSummary:
    """The whole pipeline in one process. A channel that fails validation is reported and skipped;
    the others go on. Raises if dbt or the mart suites fail. Runs never interleave: a second one
    waits for the first (see `exclusive_run`)."""
    with exclusive_run():
        return _run(landing, day, as_of)


def _run(landing: str | Path | None, day: dt.date | None, as_of: str | None) -> RunSummary:
    run_name = f"run_{dt.datetime.now(config.BEIJING):%Y%m%dT%H%M%S}"
    summary = RunSummary(run_name)
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        summary.seconds[name] = round(summary.seconds.get(name, 0.0) + now - clock, 3)
        clock = now

    for channel in CHANNELS:
        reports = ingest_channel(channel, landing, day)
        summary.files += reports
        stage("ingest")
        try:
            summary.validation[channel] = validate_channel(channel, run_name)
        except ChannelFailed as exc:
            summary.failed_channels[channel] = str(exc)
        stage("validate")
    summary.classified = classify()
    stage("classify")
    summary.dbt_nodes = build_marts(as_of)["nodes"]
    stage("dbt")
    summary.forecast = forecast()
    stage("forecast")
    summary.dbt_nodes += build_after_forecast(as_of)["nodes"]
    stage("dbt_after_forecast")
    summary.marts_valid = validate_marts(run_name)
    stage("validate_marts")
    return summary
