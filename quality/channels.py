"""Validate what ingestion loaded, channel by channel, and quarantine the rows that break a rule.

For one channel and a list of file ids (`validate_channel`):

1. The batch is the rows of those files in the channel's raw table, selected IN the database by a
   GX query asset (`select * from raw.<table> where file_id in (…)`); nothing is pulled into pandas.
2. The channel's suite (`quality.suites`) runs through a ValidationDefinition and a Checkpoint with
   result format COMPLETE and `unexpected_index_column_names` = the table's primary key, so every
   failing row comes back by its key (`partial_unexpected_count` is raised to the batch size:
   on SQL, GX cuts the index list at that count). A large batch (`quality.pass_first_above_rows`)
   is first checked for a pass alone (BOOLEAN_ONLY), and listed only when something fails (`_run`).
3. In ONE transaction: each failing row is copied to `raw.quarantine` (stage 'validate', the
   expectation(s) it broke as check_name, the reason a person can act on, the row as JSON) and
   deleted from the raw table; `ops.ingested_files` moves the same number from rows_loaded to
   rows_quarantined (a file left with no rows becomes 'quarantined'); the run goes to
   `ops.validation_runs` and each expectation's result to `ops.validation_results`; unless the
   batch failed as a whole, its files get `validated_at` (migration 0008), so that the pipeline
   validates every loaded file exactly until a suite has passed it (`pipeline.files_awaiting_validation`).
4. When more than `quality.max_failing_share` (settings.yml) of the batch fails, or an expectation
   fails that does not point at rows, or the suite cannot run, the channel has failed: `failed=True`
   tells the caller to stop that channel. Its failing rows are quarantined all the same; its files
   are held back (`quality.held`): their good rows stay in raw, but no mart reads them until a
   person releases or rejects each file.

`validate_loaded` does this for every channel, each on its own: an exception in one is reported
in its result and does not stop the others.

Why a query asset rather than a table asset with a filtered batch: GX 1.x batch definitions on
SQL partition only by year / month / day of a datetime column (nothing selects "these file ids"),
and a partitioned asset first lists its batches with a SELECT DISTINCT over the whole table. A
query asset whose WHERE names the file ids reads exactly the batch (through the primary key's
index), and each run's Data Docs page shows that query, i.e. which files were validated.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from minqing import warehouse
from minqing.config import BEIJING
from quality import context, held
from quality.suites import (CHANNEL_SUITES, ChannelSuite, format_reason, max_failing_share, pass_first_above_rows,
                            suite_parameters)

log = logging.getLogger(__name__)


@dataclass
class ChannelValidation:
    """What validation made of one channel's batch. `failed` means: stop this channel."""

    channel: str
    run_name: str
    file_ids: list[int]
    suite_name: str | None = None
    run_id: int | None = None  # ops.validation_runs
    success: bool = False  # every expectation held
    failed: bool = False  # the batch failed as a whole (or validation itself broke)
    skipped: bool = False  # nothing to validate: no file ids, or no rows loaded from them
    rows_checked: int = 0
    rows_quarantined: int = 0
    failing_share: float = 0.0
    evaluated: int = 0
    successful: int = 0
    problems: list[str] = field(default_factory=list)  # why the channel failed, for a person
    held_file_ids: list[int] = field(default_factory=list)  # the batch's files held back (quality.held)
    error: str | None = None  # the exception, when validation could not run
    seconds: float = 0.0


# --- the batch ---------------------------------------------------------------------------------

def _batch_query(suite: ChannelSuite, file_ids: list[int]) -> str:
    """The SELECT of the query asset; file ids are integers, so the literal list is safe."""
    return f"select * from {suite.table} where file_id in ({', '.join(str(int(f)) for f in file_ids)})"


def _count_rows(suite: ChannelSuite, file_ids: list[int]) -> int:
    schema, table = suite.table.split(".")
    with warehouse.connect() as conn:
        return conn.execute(
            sql.SQL("select count(*) from {} where file_id = any(%s)").format(sql.Identifier(schema, table)),
            (file_ids,),
        ).fetchone()[0]


def _result_format(suite: ChannelSuite, rows: int) -> dict:
    return {
        "result_format": "COMPLETE",
        "unexpected_index_column_names": list(suite.key_columns),
        "partial_unexpected_count": max(rows, 20),
        "return_unexpected_index_query": False,
    }


def _run(suite: ChannelSuite, channel: str, file_ids: list[int], run_name: str, rows: int) -> context.SuiteRun:
    """The suite on the batch. A batch of `quality.pass_first_above_rows` rows or more is first checked for
    a pass alone (result format BOOLEAN_ONLY: one counting query per expectation); only when something fails
    does the suite run again to list the failing rows. Listing them (COMPLETE) costs two more scans of the
    batch per expectation, failing rows or not: about half of validating a 200,000-row export
    (BENCHMARKS.md, stop 36). A small batch (a street's day) is listed at once: its second run's fixed cost
    would be more than the scans it saves."""
    def run(result_format) -> context.SuiteRun:
        return context.run_suite(
            suite.suite_name, f"{channel}_loaded_rows", _batch_query(suite, file_ids), suite.rules,
            run_name=run_name, result_format=result_format, expectation_parameters=suite_parameters())

    if rows >= pass_first_above_rows():
        passed = run("BOOLEAN_ONLY")
        if passed.success:
            return passed.counted(rows)
    return run(_result_format(suite, rows))


# --- failing rows ------------------------------------------------------------------------------

@dataclass
class _Failure:
    checks: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def _readable(value):
    """GX reports times in UTC (datetimes or ISO strings); a person reads them in Beijing time."""
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _failing_rows(suite: ChannelSuite, run: context.SuiteRun) -> tuple[dict[tuple, _Failure], list[str]]:
    """Failing rows by primary key, with every check each broke; and the failures that name no rows."""
    reasons = {rule.check_name: rule.reason for rule in suite.rules}
    rows: dict[tuple, _Failure] = {}
    problems: list[str] = []
    for outcome in run.outcomes:
        if outcome.success:
            continue
        if outcome.unexpected_rows is None or outcome.exception:
            problems.append(f"{outcome.check_name} failed without naming rows"
                            + (f": {outcome.exception}" if outcome.exception else ""))
            continue
        if outcome.unexpected_count is not None and len(outcome.unexpected_rows) < outcome.unexpected_count:
            raise RuntimeError(f"{outcome.check_name}: GX listed {len(outcome.unexpected_rows)} of "
                               f"{outcome.unexpected_count} failing rows; refusing to quarantine part of them")
        template = reasons.get(outcome.check_name) or f"the row breaks {outcome.check_name}"
        for entry in outcome.unexpected_rows:
            key = tuple(entry[c] for c in suite.key_columns)
            failure = rows.setdefault(key, _Failure())
            failure.checks.append(outcome.check_name)
            values = {k: _readable(v) for k, v in entry.items()}
            failure.reasons.append(format_reason(template, values))
    return rows, problems


# --- quarantine --------------------------------------------------------------------------------

def _sentence(text: str) -> str:
    return text if text.endswith((".", "。", "!", "?")) else text + "."


_KEY_TYPES = {"file_id": "bigint", "sheet": "text", "row_number": "integer"}
_ALL_ROWS_FAILED = ("every row of the file was quarantined (at ingestion or validation); "
                    "see raw.quarantine for each row's reason")


def _quarantine(conn: psycopg.Connection, suite: ChannelSuite, failing: dict[tuple, _Failure]) -> int:
    """Move the failing rows to raw.quarantine and fix the files' counts; returns the rows moved."""
    if not failing:
        return 0
    keys = suite.key_columns
    columns = [*keys, "check_name", "reason"]
    arrays = [[key[i] for key in failing] for i in range(len(keys))]
    arrays.append(["; ".join(f.checks) for f in failing.values()])
    arrays.append([" ".join(_sentence(r) for r in f.reasons) for f in failing.values()])
    types = [_KEY_TYPES[k] for k in keys] + ["text", "text"]
    bad = sql.SQL("select * from unnest({arrays}) as b({columns})").format(
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in types),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)))
    match = sql.SQL(" and ").join(sql.SQL("t.{c} = b.{c}").format(c=sql.Identifier(k)) for k in keys)
    return move_to_quarantine(conn, suite, bad, match, arrays, stage="validate")


def move_to_quarantine(conn: psycopg.Connection, suite: ChannelSuite, bad: sql.Composable, match: sql.Composable,
                       params, *, stage: str) -> int:
    """Move the rows of the channel's raw table that `match` pairs with a row of `bad` (a SELECT
    with columns check_name and reason) to raw.quarantine at `stage`; returns the rows moved.

    One statement: the delete, the quarantine insert and the count update see the same rows, so
    `rows_in = rows_loaded + rows_quarantined` holds for every file afterwards (a file left with no
    rows becomes 'quarantined').
    """
    schema, table = suite.table.split(".")
    statement = sql.SQL("""
        with bad as (
            {bad}
        ), moved as (
            delete from {table} as t using bad as b
             where {match}
            returning t.file_id, {sheet} as sheet, t.row_number, t.{record_id}::text as record_id,
                      to_jsonb(t)::text as raw_content, b.check_name, b.reason
        ), quarantined as (
            insert into raw.quarantine
                   (file_id, channel, path, sheet, row_number, source_record_id, raw_content, reason, stage, check_name)
            select m.file_id, {channel}, f.path, m.sheet, m.row_number, m.record_id, m.raw_content, m.reason,
                   {stage}, m.check_name
              from moved as m join ops.ingested_files as f on f.file_id = m.file_id
            returning file_id
        ), per_file as (
            select file_id, count(*)::integer as n from quarantined group by file_id
        )
        update ops.ingested_files as f
           set rows_loaded = f.rows_loaded - p.n,
               rows_quarantined = f.rows_quarantined + p.n,
               status = case when f.rows_loaded = p.n then 'quarantined' else f.status end,
               reason = case when f.rows_loaded = p.n then coalesce(f.reason, {all_failed}) else f.reason end
          from per_file as p
         where f.file_id = p.file_id
        returning p.n
    """).format(
        bad=bad,
        table=sql.Identifier(schema, table),
        match=match,
        sheet=sql.SQL("t.sheet") if "sheet" in suite.key_columns else sql.SQL("null::text"),
        record_id=sql.Identifier(suite.record_id_column),
        channel=sql.Literal(suite.channel),
        stage=sql.Literal(stage),
        all_failed=sql.Literal(_ALL_ROWS_FAILED),
    )
    return sum(n for (n,) in conn.execute(statement, params).fetchall())


def _mark_validated(conn: psycopg.Connection, file_ids: list[int]) -> None:
    """The files' rows have passed the suite (those that broke it are in quarantine)."""
    if file_ids:
        conn.execute("update ops.ingested_files set validated_at = now() where file_id = any(%s)", (file_ids,))


# --- one channel -------------------------------------------------------------------------------

def validate_channel(channel: str, file_ids: list[int], run_name: str) -> ChannelValidation:
    """Validate the rows loaded from `file_ids` into `channel`'s raw table; quarantine the failing rows.

    Returns failed=True when the batch failed as a whole: the caller should stop this channel.
    Raises when validation itself cannot run (the attempt is still recorded in ops.validation_runs).
    """
    if channel not in CHANNEL_SUITES:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNEL_SUITES)}")
    suite = CHANNEL_SUITES[channel]
    file_ids = sorted({int(f) for f in file_ids})
    outcome = ChannelValidation(channel, run_name, file_ids, suite_name=suite.suite_name)
    clock = time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    batch = {"channel": channel, "file_ids": file_ids}
    try:
        outcome.rows_checked = _count_rows(suite, file_ids) if file_ids else 0
        if outcome.rows_checked == 0:
            outcome.skipped = outcome.success = True
            with warehouse.connect() as conn, conn.transaction():
                _mark_validated(conn, file_ids)
            return outcome
        run = _run(suite, channel, file_ids, run_name, outcome.rows_checked)
        failing, outcome.problems = _failing_rows(suite, run)
        threshold = max_failing_share()
        outcome.failing_share = len(failing) / outcome.rows_checked
        if outcome.failing_share > threshold:
            outcome.problems.insert(0, f"{len(failing)} of {outcome.rows_checked} rows "
                                       f"({outcome.failing_share:.0%}) failed validation; more than the "
                                       f"{threshold:.0%} allowed (quality.max_failing_share)")
        outcome.failed = bool(outcome.problems)
        batch.update(failing_share=round(outcome.failing_share, 4), max_failing_share=threshold,
                     channel_failed=outcome.failed, problems=outcome.problems, gx_run=run.gx_run)
        with warehouse.connect() as conn, conn.transaction():
            outcome.rows_quarantined = _quarantine(conn, suite, failing)
            if outcome.failed:
                outcome.held_file_ids = held.hold(conn, file_ids, "; ".join(outcome.problems), run_name)
            else:
                _mark_validated(conn, file_ids)
            outcome.run_id = context.record_run(conn, run_name=run_name, target=suite.table, batch=batch, run=run,
                                                rows_checked=outcome.rows_checked,
                                                rows_quarantined=outcome.rows_quarantined)
        outcome.success, outcome.evaluated, outcome.successful = run.success, run.evaluated, run.successful
    except Exception as exc:
        context.record_crash(run_name=run_name, suite_name=suite.suite_name, target=suite.table, batch=batch,
                             started_at=started, error=exc)
        # a batch no suite could check is not published either
        try:
            with warehouse.connect() as conn, conn.transaction():
                held.hold(conn, file_ids, f"validation could not run: {type(exc).__name__}: {exc}", run_name)
        except Exception:  # the warehouse itself may be what failed; the original error matters more
            log.warning("could not hold the files of %s's batch", channel, exc_info=True)
        raise
    finally:
        outcome.seconds = time.perf_counter() - clock
    log.info("%s: %d rows checked, %d quarantined%s (%.1fs)", channel, outcome.rows_checked,
             outcome.rows_quarantined, "; CHANNEL FAILED" if outcome.failed else "", outcome.seconds)
    return outcome


# --- every channel -----------------------------------------------------------------------------

def validate_loaded(file_ids_by_channel: dict[str, list[int]], run_name: str) -> dict[str, ChannelValidation]:
    """Validate each channel's newly loaded files, independently of the others.

    A channel whose validation raises comes back with failed=True and the error; the others run.
    """
    results: dict[str, ChannelValidation] = {}
    for channel, file_ids in file_ids_by_channel.items():
        try:
            results[channel] = validate_channel(channel, list(file_ids), run_name)
        except Exception as exc:
            log.exception("validation of %s could not run", channel)
            results[channel] = ChannelValidation(
                channel, run_name, list(file_ids),
                suite_name=CHANNEL_SUITES[channel].suite_name if channel in CHANNEL_SUITES else None,
                failed=True, error=f"{type(exc).__name__}: {exc}",
                problems=[f"validation could not run: {type(exc).__name__}"])
    return results
