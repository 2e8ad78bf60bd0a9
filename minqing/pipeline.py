"""The pipeline's steps as plain functions: `minqing run` calls them in order, and the Airflow DAG
wires the same functions as tasks. Each step is idempotent: running it again on the same data
leaves the warehouse as it was.

    ingest (per channel) -> validate (per channel) -> classify -> dbt build -> forecast, link, effects
        -> dbt build of what reads them (sentiment code, early warnings, problems, effects, briefing)

Every run is for one day D (`run_day`): the DAG's data interval, `minqing run --date D`, or by
default the newest day a daily delivery covers (never later than yesterday in Beijing). Its marts
are built as of the end of D (`as_of_for`): records dated after D are loaded and kept, and count
from their own day on. The run is on record in ops.pipeline_runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from psycopg.types.json import Jsonb

from ingestion.contracts import CHANNELS
from minqing import config, reference, transform, warehouse

log = logging.getLogger(__name__)



def ingest_channel(channel: str, landing: str | Path | None = None, day: dt.date | None = None) -> list[dict]:
    """Load the channel's new files (those covering `day`, if given); one report per file seen."""
    from ingestion.loader import ingest

    warehouse.migrate()
    reports = ingest(config.landing_dir(landing), channels=[channel], day=day, progress=False)
    return [r.as_json() for r in reports]


def files_awaiting_validation(channel: str) -> list[int]:
    """The channel's loaded files that no channel suite has passed yet: this run's, and any that an
    earlier `minqing ingest` alone left unchecked. Held files wait for a person instead."""
    with warehouse.connect() as conn:
        return [file_id for (file_id,) in conn.execute(
            """select file_id from ops.ingested_files
                where channel = %s and status = 'loaded' and validated_at is null and rows_loaded > 0
                order by file_id""",
            (channel,))]


def validate_channel(channel: str, run_name: str) -> dict:
    """GX suite of the channel on every loaded file awaiting validation. Raises ChannelFailed when
    the batch fails as a whole or cannot be validated: its files are then held back
    (`quality.held`) until a person releases or rejects them. A retry of the same run fails the
    same way, as long as the files it held are held."""
    from quality import validate_channel as run

    try:
        outcome = run(channel, files_awaiting_validation(channel), run_name)
    except Exception as exc:
        raise ChannelFailed(channel, [f"validation could not run: {type(exc).__name__}: {exc}"], {}) from exc
    summary = asdict(outcome)
    if outcome.failed:
        raise ChannelFailed(channel, outcome.problems or [outcome.error or "validation failed"], summary)
    if held := held_in_run(run_name, channel):
        raise ChannelFailed(channel, [f"files {', '.join(map(str, held))} were held back by this run; "
                                      f"see `minqing held list`"], summary)
    return summary


class ChannelFailed(RuntimeError):
    def __init__(self, channel: str, problems: list[str], summary: dict):
        super().__init__(f"channel {channel} failed validation and its batch is held back: {'; '.join(problems)}")
        self.summary = summary


# --- the run's day ------------------------------------------------------------------------------

def as_of_for(day: dt.date) -> str:
    """The moment a run for `day` builds its marts as of: the end of that day in Beijing."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), config.BEIJING).isoformat()


def day_of_moment(as_of: str) -> dt.date:
    """The Beijing day a moment closes or falls in (the end of a day, 24:00, is that day's)."""
    moment = dt.datetime.fromisoformat(as_of.replace("T24:00", "T00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.BEIJING)
    if "T24:00" in as_of:
        moment += dt.timedelta(days=1)
    return (moment.astimezone(config.BEIJING) - dt.timedelta(microseconds=1)).date()


def yesterday() -> dt.date:
    return dt.datetime.now(config.BEIJING).date() - dt.timedelta(days=1)


def default_run_day() -> dt.date:
    """The newest day that a daily delivery in the warehouse covers (a monthly workbook's later
    entries do not move it), else the newest day any dated delivery covers; never later than
    yesterday in Beijing, and yesterday when no delivery names its day."""
    with warehouse.connect() as conn:
        newest = conn.execute(
            """select coalesce(max(covers_to) filter (where covers_from = covers_to), max(covers_to))
                 from ops.ingested_files where rows_in > 0 and status in ('loaded', 'held')""").fetchone()[0]
    return min(newest, yesterday()) if newest else yesterday()


def record_run(run_name: str, day: dt.date, orchestrator: str, state: str, summary: dict | None = None,
               as_of: str | None = None) -> None:
    """Put the run on record in ops.pipeline_runs (again, as it goes on: the newest state wins), with
    the moment its marts are built as of (default: the end of its day)."""
    finished = state != "running"
    with warehouse.connect() as conn:
        conn.execute(
            """insert into ops.pipeline_runs (run_name, run_day, as_of, orchestrator, state, finished_at, summary)
               values (%s, %s, %s, %s, %s, case when %s then now() end, %s)
               on conflict (run_name) do update
                  set run_day = excluded.run_day, as_of = excluded.as_of, state = excluded.state,
                      finished_at = excluded.finished_at,
                      summary = ops.pipeline_runs.summary || excluded.summary""",
            (run_name, day, as_of or as_of_for(day), orchestrator, state, finished, Jsonb(summary or {})))
        conn.commit()


def held_in_run(run_name: str, channel: str | None = None) -> list[int]:
    """The files this run held back that are still held (of one channel, or all)."""
    with warehouse.connect() as conn:
        return [f for (f,) in conn.execute(
            """select distinct d.file_id from ops.file_decisions as d
                 join ops.ingested_files as f using (file_id)
                where d.decision = 'held' and d.run_name = %s and f.status = 'held'
                  and (%s::text is null or f.channel = %s) order by 1""",
            (run_name, channel, channel))]


def delivery_warnings(day: dt.date) -> list[str]:
    """What the briefing of the run for `day` says is missing, late, held or pending: its data notices."""
    with warehouse.connect() as conn:
        if not conn.execute("select to_regclass('marts.rpt_dispatch_briefing')").fetchone()[0]:
            return []  # nothing built yet
        return [line for (line,) in conn.execute(
            """select detail_zh from marts.rpt_dispatch_briefing
                where briefing_date = %s and section = 'data_notice' and street_id is null  -- the district's
                order by item_rank""",
            (day + dt.timedelta(days=1),))]


def classify() -> int:
    """Classify every complaint text not yet classified by the current rules."""
    from minqing.analytics.classifier import classify_pending

    with warehouse.connect() as conn:
        count = classify_pending(conn)
        conn.commit()
    return count


# The models that read the forecast (the sentiment code's forecast component, the early warnings, the
# briefing) and everything downstream of them: built after the forecast step, from its output.
BEFORE_FORECAST, AFTER_FORECAST = "before_forecast", "after_forecast"  # dbt_project/selectors.yml


def build_marts(as_of: str | None = None) -> dict:
    """dbt build of everything the forecast does not feed."""
    outcome = transform.build(as_of=as_of, selector=BEFORE_FORECAST, reuse_seeds=True)
    if not outcome.success:
        raise RuntimeError("dbt build failed: " + "; ".join(f"{f['node']}: {f['message']}" for f in outcome.failures))
    return {"nodes": len(outcome.results), "seeds_reused": outcome.seeds_reused, "slowest": outcome.slowest()}


def forecast() -> dict:
    """Forecast the next 7 days per community × category (reads the freshly built daily facts)."""
    from minqing.analytics.forecast import forecast_step

    return forecast_step()


def link(rebuild: bool = False) -> dict:
    """Link the reports of one problem (minqing/analytics/linking.py): after fct_complaints is built,
    before the models that read the problems. `rebuild`: link every report again (new rules)."""
    from minqing.analytics.linking import link as link_reports

    return link_reports(rebuild=rebuild).as_dict()


def effects() -> dict:
    """Estimate the effect of each intervention of the seed whose inputs changed (minqing/analytics/
    intervention_effects.py): after the daily counts are built, before mart_intervention_effects."""
    from minqing.analytics.intervention_effects import effects_step

    return effects_step()


def build_after_forecast(as_of: str | None = None) -> dict:
    """dbt build of the models that read the forecast, and of their tests."""
    outcome = transform.build(as_of=as_of, selector=AFTER_FORECAST)
    if not outcome.success:
        raise RuntimeError("dbt build after the forecast failed: " +
                           "; ".join(f"{f['node']}: {f['message']}" for f in outcome.failures))
    return {"nodes": len(outcome.results), "slowest": outcome.slowest()}


def publish_briefing(out_dir: str | Path | None = None, briefing_date: dt.date | None = None) -> dict:
    """Render the dispatch briefing (default: the newest) to the briefing folder: HTML, CSV tables,
    and a PDF where a Chromium is installed. The district's into the folder; when the warehouse serves
    more than one street, each street's too, into a folder of its own (`<folder>/<street_id>/`, the
    same file names): its morning meeting's. A street's own install writes its one briefing, as before."""
    from minqing.publishing import briefing

    folder = config.briefing_dir(out_dir)
    with briefing.pdf_printer() as printer:  # one browser prints the district's PDF and every street's
        written = briefing.write(briefing_date, folder, printer=printer)
        with warehouse.connect() as conn:
            day = briefing_date or briefing.available_dates(conn)[-1]  # the one just written
            streets = briefing.streets_of(conn, day)
        result = {key: str(path) if path else None for key, path in written.items()}
        result["streets"] = {}
        if len(streets) > 1:
            for street_id in streets:
                # one validation report, the district's, beside the street folders (their pages link ../)
                page = briefing.write(day, folder, street_id=street_id, validation=False, printer=printer)
                result["streets"][street_id] = str(page["html"])
    return result


@dataclass
class RunSummary:
    run_name: str
    run_day: dt.date | None = None
    as_of: str | None = None  # the moment the marts were built as of (the end of run_day unless pinned)
    files: list[dict] = field(default_factory=list)
    validation: dict = field(default_factory=dict)
    failed_channels: dict = field(default_factory=dict)
    classified: int = 0
    dbt_nodes: int = 0
    seeds_reused: bool = False  # the seed files were the ones already loaded: not loaded again
    forecast: dict = field(default_factory=dict)
    linking: dict = field(default_factory=dict)
    effects: dict = field(default_factory=dict)
    deliveries: list[str] = field(default_factory=list)  # missing, late and held deliveries (warnings)
    seconds: dict = field(default_factory=dict)  # wall time per stage
    slowest_nodes: dict = field(default_factory=dict)  # dbt's slowest nodes of the run: seconds each

    def lines(self) -> list[str]:
        loaded = sum(f["rows_loaded"] for f in self.files)
        quarantined = sum(f["rows_quarantined"] for f in self.files)
        moved = sum(v.get("rows_quarantined", 0) for v in self.validation.values())
        lines = [
            f"day:      {self.run_day} (marts as of {self.as_of}; briefing for "
            f"{self.run_day + dt.timedelta(days=1)})" if self.run_day else "day:      -",
            f"ingest:   {len(self.files)} files, {loaded} rows loaded, {quarantined} quarantined",
            f"validate: {', '.join(f'{c} ok' for c in self.validation) or 'nothing new'}"
            f"{'; ' + str(moved) + ' rows moved to quarantine' if moved else ''}",
        ]
        for channel, reason in self.failed_channels.items():
            lines.append(f"          {channel} FAILED: {reason}")
        for f in self.files:
            if f["status"] == "unreadable":
                lines.append(f"          {f['file']} UNREADABLE: {f['reason']}")
        lines += [
            f"classify: {self.classified} new texts",
            f"dbt:      {self.dbt_nodes} nodes built and tested"
            + (" (seed files unchanged since they were loaded: not reloaded)" if self.seeds_reused else ""),
            f"forecast: {self.forecast.get('pairs', 0)} community × category pairs as of {self.forecast.get('as_of')}, "
            f"{self.forecast.get('early_warnings', 0)} early warnings",
            f"link:     {self.linking.get('reports', 0)} reports linked: {self.linking.get('founded', 0)} new problems, "
            f"{self.linking.get('joined', 0)} joined one, {self.linking.get('merged', 0)} merges",
            f"effects:  {self.effects.get('interventions', 0)} interventions: {self.effects.get('estimated', 0)} "
            f"estimates made, {self.effects.get('unchanged', 0)} unchanged"
            + (f", {self.effects['failed']} FAILED (their rows say why)" if self.effects.get("failed") else ""),
            f"time:     {', '.join(f'{stage} {seconds:.1f} s' for stage, seconds in self.seconds.items())}",
        ]
        if self.slowest_nodes:  # where dbt's time went (its own timing of each node)
            lines.append("slowest:  " + ", ".join(f"{node} {seconds:.1f} s"
                                                  for node, seconds in list(self.slowest_nodes.items())[:5]))
        lines += [f"WARNING:  {notice}" for notice in self.deliveries]
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
    """The whole pipeline in one process, for `day` (default: `default_run_day()` once the new files
    are in). A channel that fails validation is held back and reported; the others go on, and the
    summary's `failed_channels` tells the caller the run failed. Raises if a dbt model or test
    fails. `as_of` overrides the end of the day (a moment inside it). Runs never interleave: a
    second one waits for the first (see `exclusive_run`)."""
    reference.require()  # before anything is loaded: a run on a broken reference folder would fail at dbt
    with exclusive_run():
        return _run(landing, day, as_of)


def _run(landing: str | Path | None, day: dt.date | None, as_of: str | None) -> RunSummary:
    run_name = f"run_{dt.datetime.now(config.BEIJING):%Y%m%dT%H%M%S%f}"
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
    summary.run_day = day or (day_of_moment(as_of) if as_of else default_run_day())
    as_of = summary.as_of = as_of or as_of_for(summary.run_day)
    record_run(run_name, summary.run_day, "cli", "running", as_of=as_of)
    try:
        for channel in CHANNELS:
            try:
                summary.validation[channel] = validate_channel(channel, run_name)
            except ChannelFailed as exc:
                summary.failed_channels[channel] = str(exc)
            stage("validate")
        summary.classified = classify()
        stage("classify")
        built = build_marts(as_of)
        summary.dbt_nodes, summary.seeds_reused = built["nodes"], built["seeds_reused"]
        summary.slowest_nodes.update(built["slowest"])
        stage("dbt")
        summary.forecast = forecast()
        stage("forecast")
        summary.linking = link()
        stage("link")
        summary.effects = effects()
        stage("effects")
        after = build_after_forecast(as_of)
        summary.dbt_nodes += after["nodes"]
        summary.slowest_nodes = dict(sorted({**summary.slowest_nodes, **after["slowest"]}.items(),
                                            key=lambda item: item[1], reverse=True)[:10])
        stage("dbt_after_forecast")
        summary.deliveries = delivery_warnings(summary.run_day)
    except BaseException as exc:
        record_run(run_name, summary.run_day, "cli", "failed", {"error": f"{type(exc).__name__}: {exc}"[:2000]},
                   as_of=as_of)
        raise
    record_run(run_name, summary.run_day, "cli", "failed" if summary.failed_channels else "success",
               {"failed_channels": summary.failed_channels, "deliveries": summary.deliveries,
                "seconds": summary.seconds}, as_of=as_of)
    return summary
