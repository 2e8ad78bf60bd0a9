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
import logging
import os
import re
import stat
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, Iterable

import psycopg
from psycopg.types.json import Jsonb

from ingestion import chunks
from ingestion.chunks import Period, storable_json, storable_text
from ingestion.common import FileError, Rejected, decode
from ingestion.contracts import CONTRACTS, Contract
from minqing import config, privacy, warehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Channel:
    """A channel as the loader needs it: its contract and its reader (`layout_of`, `parse`)."""

    contract: Contract
    reader: ModuleType

    @property
    def name(self) -> str:
        return self.contract.channel


CHANNELS = {name: Channel(CONTRACTS[name], reader) for name, reader in chunks.READERS.items()}
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


def _ensure_partitions(conn: psycopg.Connection, relatives: list[str], day: dt.date | None) -> None:
    """The raw tables' month partitions exist before rows arrive (migration 0015): the run's month
    (its day, else today) and ingestion.raw_partition_months_ahead after it, and every month the
    files' names say they cover (a backfill's, a late file's). Rows of any other month (a file whose
    name has no date, a record dated outside its file's period) land in the default partition and
    move into their month's partition at the next call."""
    months = set()
    for period in filter(None, map(delivery_period, relatives)):
        month = period.first.replace(day=1)
        while month <= period.last:
            months.add(month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
    ahead = config.settings()["ingestion"]["raw_partition_months_ahead"]
    for month, months_ahead in [((day or dt.datetime.now(config.BEIJING).date()), ahead), *((m, 0) for m in sorted(months))]:
        conn.execute("select ops.ensure_raw_partitions(%s, %s)", (month, months_ahead))


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


def _fingerprint(file: BinaryIO) -> tuple[str, int, bytes]:
    """(SHA-256, size, the first bytes) of a file, read once in blocks: memory stays small for any size."""
    digest, size, first = hashlib.sha256(), 0, b""
    while block := file.read(1 << 20):
        digest.update(block)
        first = first or block[:_PREVIEW_BYTES]
        size += len(block)
    return digest.hexdigest(), size, first


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


def _open(path: Path) -> BinaryIO:
    """The file, open for reading; OSError when it cannot be read. Opened without blocking, so that a
    named pipe in the landing folder is refused instead of stalling the run."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
            raise OSError(f"it is {kind}, not a file with content")
        return os.fdopen(os.dup(fd), "rb")
    finally:
        os.close(fd)


def _unreadable_reason(path: Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and path.is_symlink():
        what = f"it is a link to {os.readlink(path)}, which does not exist"
    elif exc.errno is None:
        what = str(exc)
    else:
        what = f"{exc.strerror} (errno {exc.errno})"
    return storable_text(f"the file cannot be read: {what}; nothing was loaded from it, "
                          "and the next run tries again")


class _NothingNew(Exception):
    """Content seen before without records, read again, and again without records: a sighting."""


def load_file(conn: psycopg.Connection, channel: Channel, path: Path, relative: str) -> FileReport:
    try:
        file = _open(path)
    except OSError as exc:
        return FileReport(relative, channel.name, "unreadable", 0, 0, 0, None, reason=_unreadable_reason(path, exc))
    with file:
        try:
            sha, size, first = _fingerprint(file)
        except OSError as exc:
            return FileReport(relative, channel.name, "unreadable", 0, 0, 0, None,
                              reason=_unreadable_reason(path, exc))
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(sha),))  # one load of a content at a time
            seen = _known(conn, channel.name, sha, relative)
            if seen is None or seen[2] == 0:
                # Content without records is read again: a reader fixed since may now find its records.
                try:
                    with conn.transaction():
                        return _store(conn, channel, file, path, relative, sha, size, first, again=seen is not None)
                except _NothingNew:
                    pass
            file_id, original, _ = seen
            _sighted(conn, relative, sha, file_id)
            return FileReport(relative, channel.name, "duplicate", 0, 0, 0, sha,
                              duplicate_of=None if original == relative else original, file_id=file_id)


def _sighted(conn: psycopg.Connection, relative: str, sha: str, file_id: int) -> None:
    conn.execute(
        """insert into ops.file_sightings (path, sha256, file_id) values (%s, %s, %s)
           on conflict (path, sha256) do update set file_id = excluded.file_id""",
        (relative, sha, file_id))


def _store(conn: psycopg.Connection, channel: Channel, file: BinaryIO, path: Path, relative: str, sha: str,
           size: int, first: bytes, again: bool) -> FileReport:
    """Read the file chunk by chunk into the channel's table (one COPY, open while the next chunks are
    parsed) and its rejected rows into raw.quarantine: the file's record first, its counts once read.
    A file that cannot be read (FileError) keeps none of its rows and is quarantined whole, with the
    reason. Raises _NothingNew for content seen before that again holds no record (`again`)."""
    period = delivery_period(relative)
    # The counts are provisional until the file is read: one row in makes the content key that of content
    # with records (`<channel>:<sha256>`), which no other delivery holds, or this one would be a duplicate.
    file_id = conn.execute(
        """insert into ops.ingested_files
               (sha256, channel, path, size_bytes, status, rows_in, rows_loaded, rows_quarantined, reason, detail,
                landed_at, covers_from, covers_to)
           values (%s, %s, %s, %s, 'loaded', 1, 1, 0, null, '{}', %s, %s, %s) returning file_id""",
        (sha, channel.name, relative, size, _landed_at(path), period and period.first, period and period.last),
    ).fetchone()[0]
    loaded = rejected = 0
    detail: dict = {}
    reason = None
    try:
        with conn.transaction():  # a file found unreadable halfway keeps none of its rows
            if not relative.lower().endswith(channel.contract.suffixes):
                raise FileError(f"unexpected file type in {channel.name}/: expected "
                                f"{' or '.join(channel.contract.suffixes)}")
            layout = channel.reader.layout_of(chunks.head(file), relative, size)
            detail = layout.detail
            with _Sink(conn, channel, file_id, relative) as sink:
                for part in chunks.parts(channel.name, file, layout, period, file_id, size):
                    sink.add(part)
            if not sink.loaded + sink.rejected and layout.empty_reason:
                raise FileError(layout.empty_reason)
            loaded, rejected = sink.loaded, sink.rejected
    except FileError as exc:
        reason = storable_text(str(exc))  # it may quote the file (a header with NUL)
    if again and not loaded + rejected:
        raise _NothingNew
    if reason is not None:
        with conn.cursor() as cur:
            _copy_rows(cur, "raw.quarantine", _QUARANTINE_COLUMNS,
                       [(file_id, channel.name, relative, None, None, None, _preview(first),
                         f"whole file quarantined: {reason}")])
    status = "loaded" if loaded or (reason is None and not rejected) else "quarantined"
    if reason is None and status == "quarantined":
        reason = "every record of the file was quarantined; see raw.quarantine for each row's reason"
    conn.execute(
        """update ops.ingested_files set status = %s, rows_in = %s, rows_loaded = %s, rows_quarantined = %s,
                  reason = %s, detail = %s where file_id = %s""",
        (status, loaded + rejected, loaded, rejected, reason, Jsonb(storable_json(detail)), file_id))
    _sighted(conn, relative, sha, file_id)
    return FileReport(relative, channel.name, status, loaded + rejected, loaded, rejected, sha, reason=reason,
                      file_id=file_id)


class _Sink:
    """One COPY into the channel's table for a whole file, fed part by part; the rejected rows go
    into raw.quarantine whenever QUARANTINE_BATCH of them wait (the COPY is ended and begun again
    around them: a connection runs one COPY at a time), and at the end."""

    QUARANTINE_BATCH = 10_000

    def __init__(self, conn: psycopg.Connection, channel: Channel, file_id: int, relative: str):
        self._cursor = conn.cursor()
        self._statement = (f"copy {channel.contract.table} ({', '.join(channel.contract.column_names)}) "
                           "from stdin")
        self._channel, self._file_id, self._relative = channel.name, file_id, relative
        self._copy = self._writer = None
        self._waiting: list[Rejected] = []
        self.loaded = self.rejected = 0

    def __enter__(self) -> "_Sink":
        return self

    def add(self, part: chunks.Part) -> None:
        if part.copy_data:
            if self._copy is None:
                self._copy = self._cursor.copy(self._statement)  # a context manager, entered here
                self._writer = self._copy.__enter__()
            self._writer.write(part.copy_data)
        self.loaded += part.loaded
        self.rejected += len(part.rejected)
        self._waiting += part.rejected
        if len(self._waiting) >= self.QUARANTINE_BATCH:
            self._flush()

    def _end_copy(self, *exc) -> None:
        copy, self._copy = self._copy, None
        if copy is not None:
            copy.__exit__(*exc)

    def _flush(self) -> None:
        self._end_copy(None, None, None)
        waiting, self._waiting = self._waiting, []
        _copy_rows(self._cursor, "raw.quarantine", _QUARANTINE_COLUMNS,
                   ((self._file_id, self._channel, self._relative, q.sheet, q.row_number, q.source_record_id,
                     q.raw_content, q.reason) for q in waiting))

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._flush()
            else:
                self._end_copy(*exc)
        finally:
            self._cursor.close()


def _path_text(relative: Path) -> str:
    """A relative path as text. A name that is not UTF-8 (GBK, from a zip made on Chinese Windows) is
    decoded as the exports are; Python would otherwise hand over lone surrogates, which are not text."""
    return decode(os.fsencode(relative.as_posix()))[0]


_PREVIEW_BYTES = 2000


def _preview(data: bytes) -> str:
    """What a person needs to recognise an unreadable file; its full bytes stay in the landing folder."""
    return storable_text(data[:_PREVIEW_BYTES].decode("utf-8", errors="replace"))


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
        _ensure_partitions(conn, [_path_text(path.relative_to(landing)) for _, path in files], day)
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
