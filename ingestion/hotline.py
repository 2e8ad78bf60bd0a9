"""12345 / 400 hotline work-order exports: `hotline/*.csv`, one row per work-order version.

UTF-8, UTF-8 with BOM or GB18030; RFC 4180 quoting with commas, quotes and line breaks inside
诉求内容; Chinese header in any order, unknown columns kept in `extra`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re

import unicodedata

from ingestion.common import (GB18030, UTF8, CutShort, FileError, Layout, ReadResult, Rejected, RowError, clean, decode, header_name,
                              offset_after_lines, parse_datetime, read_whole)
from ingestion.contracts import hotline as contract
from ingestion.contracts.hotline import CONTRACT
from minqing import privacy

COLUMNS = CONTRACT.header  # Chinese header -> raw column
_OTHER_COLUMNS = [(s, t) for s, t in COLUMNS.items() if t not in ("work_order_id", "intake_line")]
REQUIRED = CONTRACT.required
TIME_COLUMNS = CONTRACT.time_sources
ID_12345 = re.compile(contract.ID_12345)
ID_400 = re.compile(contract.ID_400)
MAX_FIELD = 1_000_000  # characters; a longer field is a broken export, not a complaint

csv.field_size_limit(MAX_FIELD)


def _intake_line(work_order_id: str, stated: str | None) -> str:
    by_id = "12345" if ID_12345.match(work_order_id) else "400" if ID_400.match(work_order_id) else None
    if by_id is None:
        raise RowError(
            f"工单编号 {work_order_id!r} is neither GD + 13 digits (12345) nor 400-YYYYMMDD-NNNN (400 line)"
        )
    if stated:
        line = contract.INTAKE_LINE_SPELLINGS.get(re.sub(r"\s+", "", unicodedata.normalize("NFKC", stated)))
        if line is None:
            raise RowError(f"来源 {stated!r} names neither the 12345 hotline nor the 400 line "
                           f"(known spellings: {', '.join(sorted(contract.INTAKE_LINE_SPELLINGS))}); 工单编号 {work_order_id!r} "
                           f"is a {by_id} id")
        if line != by_id:
            raise RowError(f"来源 {stated!r} says the {line} line, but 工单编号 {work_order_id!r} is a {by_id} id; "
                           "one of the two is wrong in the export")
    return by_id


def _record(row: dict[str, str | None]) -> dict:
    work_order_id = clean(row.get("工单编号"))
    if not work_order_id:
        raise RowError("工单编号 is empty: a work order cannot be placed without its id")
    record = {"work_order_id": work_order_id, "intake_line": _intake_line(work_order_id, clean(row.get("来源")))}
    for source, target in _OTHER_COLUMNS:
        value = clean(row.get(source))
        record[target] = parse_datetime(value, field_name=source) if source in TIME_COLUMNS else value
    if record["received_at"] is None:
        raise RowError("来电时间 is empty")
    if record["updated_at"] is None:
        raise RowError("更新时间 is empty: the newest version of the work order cannot be told")
    record.update(privacy.pseudonymise(CONTRACT.person, record))
    return record


def layout_of(head: bytes, name: str, size: int) -> Layout:
    """The encoding (decided on the first HEAD_BYTES, cut at a line end, or the whole file when it is
    smaller) and the header; the records follow it and are cut into chunks at record boundaries."""
    whole = size <= len(head)
    seen = head if whole else head[:head.rfind(b"\n") + 1] or head
    text, encoding = decode(seen)
    header, header_lines = _header(text)
    if encoding == UTF8 and any(c not in header for c in REQUIRED):
        # Text mostly of rare characters can read as more plausible in broken UTF-8 than in GB18030:
        # a header that is the contract's in GB18030 settles it.
        alternative = seen.decode(GB18030, errors="replace")
        with contextlib.suppress(FileError):
            if all(c in (found := _header(alternative))[0] for c in REQUIRED):
                encoding, (header, header_lines) = GB18030, found
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise FileError(f"the header names {', '.join(duplicated)} more than once; the columns are ambiguous")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileError(
            f"not a work-order export: the header lacks {', '.join(missing)} (found: {', '.join(header)[:300]})"
        )
    extras = [h for h in header if h not in COLUMNS]
    bom = 3 if encoding == "utf-8-sig" else 0
    return Layout(detail={"encoding": encoding, "extra_columns": extras}, split="csv",
                  body_start=bom + offset_after_lines(head[bom:], header_lines), first_line=header_lines + 1,
                  # the header's names are keys of `extra`: a NUL in them is in every record
                  state={"header": header, "extras": extras, "values_from_text": not any("\x00" in h for h in header),
                         "codec": "gb18030" if encoding == "gb18030" else "utf-8"})


def _header(text: str) -> tuple[list[str], int]:
    """The header row's names as the contract spells them, and the lines it takes."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise FileError("the file is empty: no header row") from None
    except csv.Error as exc:
        raise FileError(f"the header row cannot be parsed as CSV: {exc}") from None
    return [header_name(h, COLUMNS) for h in header], reader.line_num


class _Lines:
    """The lines of a text, remembering those read since `mark()`: the record being parsed."""

    def __init__(self, text: str):
        self._lines = iter(io.StringIO(text, newline=""))
        self.since: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.since.append(line)
        return line

    def mark(self) -> None:
        self.since.clear()

    def rest(self) -> str:
        return "".join(self.since) + "".join(self._lines)


def parse(body: bytes, first_line: int, layout: Layout, last: bool):
    """The records of a chunk of the export (whole records, starting at line `first_line`): a record
    dict or a Rejected each, in file order."""
    header, extras = layout.state["header"], layout.state["extras"]
    encoding = layout.detail["encoding"]
    text = body.decode(layout.state["codec"], errors="replace")
    undecodable = "\ufffd" in text
    lines = _Lines(text)
    reader = csv.reader(lines, strict=False)
    base = first_line - 1
    line = base
    while True:
        start = line + 1
        lines.mark()
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The csv module cannot resume after a broken record: account for the rest in one entry.
            yield CutShort(start, "\n".join(lines.rest().splitlines()), f"CSV cannot be parsed from line {start} on: {exc}")
            break
        line = base + reader.line_num
        if not any(f.strip() for f in fields):
            continue  # a blank line is not a record
        if len(fields) != len(header):
            yield Rejected(start, _raw_line(fields), f"the row has {len(fields)} fields where the header has {len(header)}; "
                                 "probably an unquoted comma or a missing column",
                           source_record_id=clean(fields[header.index("工单编号")]) if len(fields) > header.index("工单编号") else None)
            continue
        row = dict(zip(header, fields))
        if undecodable and any("\ufffd" in f for f in fields):
            yield Rejected(start, _raw_line(fields), f"the row holds bytes that are not valid {encoding.upper()} (the export is damaged "
                                                  "here); the file's other rows are loaded",
                           source_record_id=clean(row.get("工单编号")))
            continue
        try:
            record = _record(row)
        except RowError as exc:
            yield Rejected(start, _raw_line(fields), str(exc), source_record_id=clean(row.get("工单编号")))
            continue
        record["row_number"] = start
        record["extra"] = {h: row[h] for h in extras if h and row[h] not in ("", None)} or None
        yield record


def read(data: bytes, name: str) -> ReadResult:
    return read_whole(layout_of, parse, data, name)


def _raw_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()
