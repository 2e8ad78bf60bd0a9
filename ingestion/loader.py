"""Scan the landing folder and load every new file, accounting for every row.

For each file: its channel and SHA-256 decide whether it was seen before (a byte-identical copy
with records, under any name in the same channel, is a `duplicate` and loads nothing; content
without records — empty, header-only, quarantined whole — is a delivery per path, and is read
again when seen again, so that a fixed reader loads it; migration 0008); otherwise the channel's
reader parses it, and the file's record, its rows (COPY) and its quarantined rows (COPY) are
written together, so a file is either wholly in the warehouse or not at all.

Faults (tests/e2e/test_faults.py):
- One `ingest()` call is ONE transaction (each file in a savepoint of it). A process killed, a
  connection cut or a server restarted mid-file, or a write the server refuses (disk full), leaves
  the warehouse exactly as before the call; the next run loads everything again, and its
  validation step sees every file it loaded.
- Concurrent ingests of the same content never load it twice: each file takes a transaction-level
  advisory lock on its SHA-256 and looks again once it holds it. A second ingest of the same folder
  waits for the first to commit and then finds every file a duplicate (or loads it, if the first
  one failed and rolled back).
- A landing entry that cannot be read (permissions, a link to nothing, a named pipe) is reported
  with status `unreadable` and a reason, is not recorded in ops (its content is unknown), and does
  not stop the other files; the next run reads it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import logging
import math
import os
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import psycopg
from psycopg.types.json import Jsonb

from ingestion import hotline, miniprogram, reception
from ingestion.common import FileError, ReadResult, Rejected, decode
from ingestion.contracts import CONTRACTS, Contract
from minqing import privacy, warehouse
from minqing.config import BEIJING, settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    """A channel as the loader needs it: its contract and its reader."""

    contract: Contract
    read: Callable[[bytes, str], ReadResult]

    @property
    def name(self) -> str:
        return self.contract.channel


CHANNELS = {name: Channel(CONTRACTS[name], reader.read)
            for name, reader in (("hotline", hotline), ("miniprogram", miniprogram), ("reception", reception))}
_QUARANTINE_COLUMNS = ("file_id", "channel", "path", "sheet", "row_number", "source_record_id", "raw_content",
                       "reason")


@dataclass
class FileReport:
    file: str
    channel: str
    status: str  # loaded | duplicate | quarantined | unreadable (nothing recorded; retried next run)
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    sha256: str | None  # None when the file could not be read
    duplicate_of: str | None = None
    reason: str | None = None
    file_id: int | None = None  # the ingested_files row this content is recorded under

    def as_json(self) -> dict:
        return asdict(self)


_DAY_IN_PATH = re.compile(r"(?<!\d)(20\d{2})-?(\d{2})-?(\d{2})(?!\d)")
_MONTH_IN_PATH = re.compile(r"(?<!\d)(20\d{2})-?(\d{2})(?!\d)")


@dataclass(frozen=True)
class Period:
    """The days a delivery covers, told by the date in its path."""

    first: dt.date
    last: dt.date
    cadence: str  # daily | monthly


def delivery_period(relative: str) -> Period | None:
    """A daily file (`…20260715…`, `…2026-07-15…`) covers its day, a monthly workbook (`…202607…`)
    its month; a path naming several days or months covers from the first to the last; a path
    without a date covers no day that the loader can tell."""
    if days := sorted(d for d in (_safe_date(*m) for m in _DAY_IN_PATH.findall(relative)) if d):
        return Period(days[0], days[-1], "daily")
    if months := sorted(dt.date(int(y), int(m), 1) for y, m in _MONTH_IN_PATH.findall(relative) if 1 <= int(m) <= 12):
        last = months[-1]
        return Period(months[0], (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1),
                      "monthly")
    return None


def is_due(relative: str, day: dt.date) -> bool:
    """Whether a run for `day` should take this file: a file is due from the first day it covers
    on (a path without a date is always due). A run takes every due file it has not loaded yet, so
    a file delivered late is taken by the next run, and a re-run or a backfill of an earlier day
    takes nothing that belongs to a later one.
    """
    period = delivery_period(relative)
    return period is None or period.first <= day


def _safe_date(year: str, month: str, day: str) -> dt.date | None:
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _record_day(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return (value.astimezone(BEIJING) if value.tzinfo else value).date()
    return value if isinstance(value, dt.date) else None


def _hold_back_future_records(channel: Channel, result: ReadResult, period: Period | None) -> None:
    """Move to the rejected every record dated implausibly far past the last day its delivery covers
    (ingestion.days_past_delivery in settings.yml): a July workbook's entry of 5 August, a 16 July
    export's order received on the 20th. A record a day or so ahead (an export written after
    midnight) is loaded and counts from its own day on."""
    if period is None:
        return
    allowed = settings()["ingestion"]["days_past_delivery"]
    limit = period.last + dt.timedelta(days=allowed)
    kept = []
    for record in result.records:
        day = _record_day(record.get(channel.contract.dated_by))
        if day is not None and day > limit:
            result.rejected.append(Rejected(
                record.get("row_number"), json.dumps(record, ensure_ascii=False, default=str),
                f"{channel.contract.dated_by} is {day}, {(day - period.last).days} days after the last day this file covers "
                f"({period.last}, from its name); more than the {allowed} allowed (ingestion.days_past_delivery): "
                f"check the date in the source, or deliver the record in the file of its own day",
                sheet=record.get("sheet"), source_record_id=record.get(channel.contract.record_id)))
        else:
            kept.append(record)
    result.records = kept


def _landed_at(path: Path) -> dt.datetime:
    """When the file arrived in the landing folder: its modification time."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def discover(landing: Path, channels: Iterable[str] | None = None,
             day: dt.date | None = None) -> list[tuple[str, Path]]:
    """(channel, path) for every file under the channel folders; hidden and Office lock files skipped.

    Every entry that is not a folder is taken, also a link to nothing or a named pipe, so that
    `load_file` reports it instead of the run passing over it in silence.
    `channels` limits the folders; `day` keeps only the files due by that day (see `is_due`).
    """
    found = []
    for name in channels or CHANNELS:
        if name not in CHANNELS:
            raise ValueError(f"unknown channel {name!r}; expected one of {', '.join(CHANNELS)}")
        folder = landing / name
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(landing)
            if not path.is_dir() and not any(part.startswith((".", "~$")) for part in relative.parts):
                if day is None or is_due(relative.as_posix(), day):
                    found.append((name, path))
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lock_key(sha: str) -> int:
    return int(sha[:15], 16)  # fits a bigint; serialises concurrent loads of the same content


def _known(conn: psycopg.Connection, channel: str, sha: str, relative: str) -> tuple[int, str, int] | None:
    """(file_id, path, rows_in) of the delivery this content is, if it came before (migration 0008):
    the same content with records in the same channel, or the same content without records (empty,
    header-only, quarantined whole) under the same path."""
    return conn.execute(
        """select file_id, path, rows_in from ops.ingested_files
            where content_key in (%(channel)s || ':' || %(sha)s, %(channel)s || ':' || %(sha)s || ':' || %(path)s)
            order by rows_in > 0 desc, file_id desc limit 1""",
        {"channel": channel, "sha": sha, "path": relative}).fetchone()


def _copy_rows(cur: psycopg.Cursor, table: str, columns: Iterable[str], rows: Iterable[tuple]) -> None:
    with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)


def _table_rows(contract: Contract, records: list[dict], file_id: int):
    """The records as rows of the channel's table: the file's id, JSON columns as JSON text."""
    columns = contract.column_names
    json_columns = [i for i, c in enumerate(columns) if c in contract.json_columns]
    for record in records:
        row = [file_id if c == "file_id" else record.get(c) for c in columns]
        for i in json_columns:
            if row[i] is not None:
                row[i] = json.dumps(row[i], ensure_ascii=False, default=str)
        yield row


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; OSError when it cannot be read. Opened without blocking, so that a named
    pipe in the landing folder is refused instead of stalling the run."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
            raise OSError(f"it is {kind}, not a file with content")
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read()
    finally:
        os.close(fd)


def _unreadable_reason(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        what = f"it is a link to {os.readlink(path)}, which does not exist"
    elif exc.errno is None:
        what = str(exc)
    else:
        what = f"{exc.strerror} (errno {exc.errno})"
    return _storable_text(f"the file cannot be read: {what}; nothing was loaded from it, "
                          "and the next run tries again")


def load_file(conn: psycopg.Connection, channel: Channel, path: Path, relative: str) -> FileReport:
    try:
        data = _read_bytes(path)
    except OSError as exc:
        return FileReport(relative, channel.name, "unreadable", 0, 0, 0, None, reason=_unreadable_reason(path, exc))
    sha = _sha256(data)
    # Content without records is read again: a reader fixed since may now find its records.
    seen = _known(conn, channel.name, sha, relative)
    period = delivery_period(relative)
    if seen is None or seen[2] == 0:
        result, reason = _read(channel, data, relative, period)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(sha),))
        seen = _known(conn, channel.name, sha, relative)  # another process may have loaded it meanwhile
        if seen is not None and (seen[2] > 0 or not result.rows_in):
            file_id, original, _ = seen
            conn.execute(
                """insert into ops.file_sightings (path, sha256, file_id) values (%s, %s, %s)
                   on conflict (path, sha256) do update set file_id = excluded.file_id""",
                (relative, sha, file_id),
            )
            return FileReport(relative, channel.name, "duplicate", 0, 0, 0, sha,
                              duplicate_of=None if original == relative else original, file_id=file_id)
        loaded, rejected = len(result.records), len(result.rejected)
        status = "loaded" if loaded or (reason is None and not rejected) else "quarantined"
        if reason is None and status == "quarantined":
            reason = "every record of the file was quarantined; see raw.quarantine for each row's reason"
        file_id = conn.execute(
            """insert into ops.ingested_files
                   (sha256, channel, path, size_bytes, status, rows_in, rows_loaded, rows_quarantined, reason, detail,
                    landed_at, covers_from, covers_to)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning file_id""",
            (sha, channel.name, relative, len(data), status, loaded + rejected, loaded, rejected, reason,
             Jsonb(result.detail), _landed_at(path), period and period.first, period and period.last),
        ).fetchone()[0]
        conn.execute(
            """insert into ops.file_sightings (path, sha256, file_id) values (%s, %s, %s)
               on conflict (path, sha256) do update set file_id = excluded.file_id""",
            (relative, sha, file_id))
        with conn.cursor() as cur:
            _copy_rows(cur, channel.contract.table, channel.contract.column_names,
                       _table_rows(channel.contract, result.records, file_id))
            quarantine = [(file_id, channel.name, relative, q.sheet, q.row_number, q.source_record_id,
                           q.raw_content, q.reason) for q in result.rejected]
            if reason is not None and not result.rejected:
                quarantine.append((file_id, channel.name, relative, None, None, None,
                                   _preview(data), f"whole file quarantined: {reason}"))
            _copy_rows(cur, "raw.quarantine", _QUARANTINE_COLUMNS, quarantine)
    return FileReport(relative, channel.name, status, loaded + rejected, loaded, rejected, sha, reason=reason,
                      file_id=file_id)


def _read(channel: Channel, data: bytes, relative: str, period: Period | None) -> tuple[ReadResult, str | None]:
    """Parse a file; move records PostgreSQL cannot store (NUL, lone surrogates), and records dated
    implausibly past the delivery's period, to the rejected."""
    if not relative.lower().endswith(channel.contract.suffixes):
        return ReadResult(), (f"unexpected file type in {channel.name}/: expected "
                              f"{' or '.join(channel.contract.suffixes)}")
    try:
        result = channel.read(data, relative)
    except FileError as exc:
        return ReadResult(), _storable_text(str(exc))  # it may quote the file (a header with NUL)
    storable = []
    for record in result.records:
        problem = _unstorable(list(record.values()))  # the keys are the reader's own column names
        if problem:
            result.rejected.append(Rejected(record.get("row_number"), _storable_text(json.dumps(
                record, ensure_ascii=False, default=str)), problem, sheet=record.get("sheet")))
        else:
            storable.append(record)
    result.records = storable
    _hold_back_future_records(channel, result, period)
    for rejected in result.rejected:
        rejected.raw_content = _storable_text(rejected.raw_content)
        rejected.source_record_id = _storable_text(rejected.source_record_id)
        rejected.reason = _storable_text(rejected.reason)
        rejected.sheet = _storable_text(rejected.sheet)
    result.detail = _storable_json(result.detail)
    return result, None


def _unstorable(value) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "the record holds a NUL character, which is not text; the export is corrupt"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "the record holds an invalid Unicode character (a lone surrogate)"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "the record holds NaN or Infinity, which is not JSON"
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        # the texts checked joined, in one pass (a record is some twenty of them), then the containers
        # and numbers; None, datetimes and the like are always storable
        texts, others = [], []
        for item in value:
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, (float, dict, list)):
                others.append(item)
        return _unstorable("".join(texts)) or next((p for v in others if (p := _unstorable(v))), None)
    return None


def _storable_text(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def _storable_json(value):
    """A reader's detail (column names, sheet titles) with NUL and lone surrogates replaced, for jsonb."""
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, dict):
        return {_storable_text(str(k)): _storable_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable_json(v) for v in value]
    return value


def _path_text(relative: Path) -> str:
    """A relative path as text. A name that is not UTF-8 (GBK, from a zip made on Chinese Windows) is
    decoded as the exports are; Python would otherwise hand over lone surrogates, which are not text."""
    return decode(os.fsencode(relative.as_posix()))[0]


def _preview(data: bytes) -> str:
    """What a person needs to recognise an unreadable file; its full bytes stay in the landing folder."""
    return _storable_text(data[:2000].decode("utf-8", errors="replace"))


def ingest(landing: Path, *, channels: Iterable[str] | None = None, day: dt.date | None = None,
           progress: bool | None = None) -> list[FileReport]:
    """Load every new file under `landing` (optionally of some channels, or due by a day).

    Returns one report per file seen.
    """
    landing = Path(landing)
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    files = discover(landing, channels, day)
    if progress is None:
        progress = sys.stderr.isatty()
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="ingest", unit="file", file=sys.stderr)
    reports = []
    # One transaction for the whole call (see the module's docstring): on any error nothing of it stays.
    # Personal data hashed with another key than the warehouse's is never mixed in. The first use
    # records the key's fingerprint in a transaction of its own, so that two first ingests at once
    # do not queue on that row for the length of a load; inside the load, it is only read.
    with warehouse.connect(autocommit=True) as conn:
        privacy.check(conn)
    with warehouse.connect() as conn, conn.transaction():
        privacy.check(conn)
        for name, path in iterator:
            relative = _path_text(path.relative_to(landing))
            report = load_file(conn, CHANNELS[name], path, relative)
            if report.status == "unreadable":
                log.error("%s: %s", relative, report.reason)
            else:  # a line per file is detail (`-v`): a month holds a hundred files, a history thousands
                log.debug("%s: %s (%d in, %d loaded, %d quarantined)", relative, report.status,
                         report.rows_in, report.rows_loaded, report.rows_quarantined)
            reports.append(report)
    return reports
