"""A delivery read in chunks: cut at record boundaries, parsed (in worker processes when the file is
large), handed to the loader as COPY data in file order, with memory bounded whatever the size.

The loader writes what `parts()` yields into one `COPY` while the next chunks are parsed, so the
server stores rows on one core while Python parses on the others. A chunk is `CHUNK_BYTES` of whole
records: a CSV is cut where the csv module's reading would end a record (a line end outside quotes;
`CSV_RECORDS` follows its state machine for RFC 4180 with `strict=False`), a JSON-lines pull at a
line end; a workbook is read whole. At most two chunks per worker are in flight.

Each chunk's records pass the checks the loader owes every row before they become COPY text:
values PostgreSQL cannot store (NUL, lone surrogates, NaN) and records dated implausibly past the
delivery's period (ingestion.days_past_delivery) go to the rejected, with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import functools
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO, Iterator

from psycopg.adapt import Transformer
from psycopg._copy_base import TextFormatter

from ingestion import hotline, miniprogram, reception
from ingestion.common import HEAD_BYTES, CutShort, Layout, Rejected, line_count
from ingestion.contracts import CONTRACTS, Contract
from minqing import config, parallel
from minqing.config import BEIJING, settings

READERS = {"hotline": hotline, "miniprogram": miniprogram, "reception": reception}
CHUNK_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 16 << 20  # a smaller file is parsed in the loader's process: a street's day
MAX_RECORD_BYTES = 64 << 20  # a "record" longer than this (an unclosed quote) is cut into chunks
CUT_SHORT_MAX_CHARS = 1_000_000  # of the text a CutShort entry keeps of the rows after its own chunk

# A CSV field as the csv module reads it: quoted (a doubled quote inside; after the closing quote,
# anything up to the delimiter is kept, strict=False) or unquoted (quotes inside are literal).
# Atomic groups and possessive repeats: no backtracking into a record already matched, so a window
# that ends inside a quoted field ends the match at the record before it.
_FIELD = rb'(?>"(?:[^"]|"")*+"[^,\r\n]*+|(?:[^",\r\n][^,\r\n]*+)?)'
CSV_RECORDS = re.compile(rb"(?:(?>" + _FIELD + rb"(?:," + _FIELD + rb")*+(?:\r\n|\n|\r)))*+")


@dataclass(frozen=True)
class Chunk:
    data: bytes
    first_line: int
    last: bool
    end: int  # the byte offset in the file just after the chunk


@dataclass
class Part:
    """What one chunk gives the loader: its rows as COPY text, how many, and its rejected rows."""

    copy_data: bytes
    loaded: int
    rejected: list[Rejected] = field(default_factory=list)
    cut_short: bool = False


def _cut(block: bytes, split: str, final: bool) -> int:
    """Where the whole records of `block` end (the block may end inside one, unless `final`)."""
    if final or split == "whole":
        return len(block)
    if split == "lines":
        return block.rfind(b"\n") + 1
    window = len(block) - 1 if block.endswith(b"\r") else len(block)  # `\r\n` is one line end
    return CSV_RECORDS.match(block, 0, window).end()


def chunks(file: BinaryIO, layout: Layout, size: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The file's records from `layout.body_start` on, in chunks of about `size` bytes of whole
    records (a record longer than that makes a longer chunk), numbered as the reader counts lines."""
    file.seek(layout.body_start)
    line, offset = layout.first_line, layout.body_start
    carry = b""
    while True:
        # after a record longer than a chunk, the block doubles: each byte is scanned a few times at most
        read = file.read() if layout.split == "whole" else file.read(max(size, len(carry)))
        block = carry + read
        final = not read or layout.split == "whole"
        end = _cut(block, layout.split, final)
        if end == 0 and not final:
            if len(block) < MAX_RECORD_BYTES:  # one record longer than the block: read on
                carry = block
                continue
            end = len(block)  # no record is this long: the reader finds the fault where it lies
        data, carry = block[:end], block[end:]
        offset += len(data)
        if data or final:
            yield Chunk(data, line, final, offset)
        if final:
            return
        line += data.count(b"\n") if layout.split == "lines" else line_count(data)


# --- one chunk: parse, check, format ---------------------------------------------------------------

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


def storable_text(text: str | None) -> str | None:
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def storable_json(value):
    """A reader's detail (column names, sheet titles) with NUL and lone surrogates replaced, for jsonb."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_json(v) for v in value]
    return value


def _record_day(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return (value.astimezone(BEIJING) if value.tzinfo else value).date()
    return value if isinstance(value, dt.date) else None


@dataclass(frozen=True)
class Period:
    """The days a delivery covers, told by the date in its path."""

    first: dt.date
    last: dt.date
    cadence: str  # daily | monthly


def _held_back(contract: Contract, record: dict, period: Period | None) -> str | None:
    """Why a record dated implausibly far past the last day its delivery covers is held back
    (ingestion.days_past_delivery in settings.yml): a July workbook's entry of 5 August, a 16 July
    export's order received on the 20th. A record a day or so ahead (an export written after
    midnight) is loaded and counts from its own day on."""
    if period is None:
        return None
    allowed = settings()["ingestion"]["days_past_delivery"]
    day = _record_day(record.get(contract.dated_by))
    if day is None or day <= period.last + dt.timedelta(days=allowed):
        return None
    return (f"{contract.dated_by} is {day}, {(day - period.last).days} days after the last day this file covers "
            f"({period.last}, from its name); more than the {allowed} allowed (ingestion.days_past_delivery): "
            f"check the date in the source, or deliver the record in the file of its own day")


@lru_cache(maxsize=None)
def _columns(channel: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The channel table's columns, and the positions of its JSON columns."""
    contract = CONTRACTS[channel]
    names = contract.column_names
    return names, tuple(i for i, c in enumerate(names) if c in contract.json_columns)


def _row(channel: str, record: dict, file_id: int) -> list:
    """A record as a row of the channel's table: the file's id, JSON columns as JSON text."""
    names, json_positions = _columns(channel)
    row = [file_id if c == "file_id" else record.get(c) for c in names]
    for i in json_positions:
        if row[i] is not None:
            row[i] = json.dumps(row[i], ensure_ascii=False, default=str)
    return row


def _storable(rejected: Rejected) -> Rejected:
    rejected.raw_content = storable_text(rejected.raw_content)
    rejected.source_record_id = storable_text(rejected.source_record_id)
    rejected.reason = storable_text(rejected.reason)
    rejected.sheet = storable_text(rejected.sheet)
    return rejected


def part(channel: str, layout: Layout, period: Period | None, file_id: int, chunk: Chunk) -> Part:
    """One chunk parsed by its channel's reader, checked, and formatted as COPY text (what a worker runs)."""
    contract = CONTRACTS[channel]
    formatter = TextFormatter(Transformer())
    out = bytearray()
    result = Part(b"", 0)
    # A reader whose values are all text decoded from the file (with replacement: never a lone
    # surrogate) stores every value of a chunk without a NUL byte; JSON escapes can make anything.
    checked = not (layout.state.get("values_from_text") and b"\x00" not in chunk.data)
    for item in READERS[channel].parse(chunk.data, chunk.first_line, layout, chunk.last):
        if isinstance(item, Rejected):
            result.rejected.append(_storable(item))
            result.cut_short = isinstance(item, CutShort)
        elif problem := checked and _unstorable(list(item.values())):  # keys: the reader's own column names
            result.rejected.append(_storable(Rejected(
                item.get("row_number"), json.dumps(item, ensure_ascii=False, default=str), problem,
                sheet=item.get("sheet"))))
        elif reason := _held_back(contract, item, period):
            result.rejected.append(_storable(Rejected(
                item.get("row_number"), json.dumps(item, ensure_ascii=False, default=str), reason,
                sheet=item.get("sheet"), source_record_id=item.get(contract.record_id))))
        else:
            out += formatter.write_row(_row(channel, item, file_id))
            result.loaded += 1
    out += formatter.end()
    result.copy_data = bytes(out)
    return result


# --- many chunks: in this process or in workers ------------------------------------------------------

def workers() -> int:
    """Processes that parse a large file (MINQING_INGEST_WORKERS, else one per CPU)."""
    return config.worker_processes("MINQING_INGEST_WORKERS")


def parts(channel: str, file: BinaryIO, layout: Layout, period: Period | None, file_id: int,
          size: int, processes: int | None = None, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Part]:
    """Every chunk of the file as a Part, in file order. A file of PARALLEL_MIN_BYTES or more is
    parsed by `processes` forked workers (default `workers()`; minqing.parallel); a smaller one here, one chunk at a time. After a CutShort entry the rest of the file is
    appended to it (up to CUT_SHORT_MAX_CHARS) and nothing more is read."""
    processes = workers() if processes is None else processes
    pieces = chunks(file, layout, chunk_bytes)
    if processes < 2 or size < PARALLEL_MIN_BYTES or layout.split == "whole":
        results = ((chunk, part(channel, layout, period, file_id, chunk)) for chunk in pieces)
    else:
        results = parallel.in_order(functools.partial(part, channel, layout, period, file_id), pieces, processes)
    for chunk, result in results:
        if result.cut_short:
            _append_rest(result.rejected, file, chunk.end, layout)
            yield result
            results.close()
            return
        yield result


def _append_rest(rejected: list[Rejected], file: BinaryIO, offset: int, layout: Layout) -> None:
    """The rows after a broken CSV record's chunk (from `offset` on), appended to the one entry that
    accounts for them, up to CUT_SHORT_MAX_CHARS."""
    entry = next(r for r in reversed(rejected) if isinstance(r, CutShort))
    file.seek(offset)
    room = max(0, CUT_SHORT_MAX_CHARS - len(entry.raw_content))
    block = file.read(4 * room)  # a character is at most four bytes
    rest = "\n".join(block.decode(layout.state.get("codec", "utf-8"), errors="replace").splitlines())
    kept = [entry.raw_content, rest[:room]]
    if len(rest) > room or file.read(1):
        kept.append(f"… (cut at {CUT_SHORT_MAX_CHARS:,} characters: the whole file stays in the landing folder)")
    entry.raw_content = storable_text("\n".join(k for k in kept if k))


def head(file: BinaryIO) -> bytes:
    file.seek(0)
    return file.read(HEAD_BYTES)
