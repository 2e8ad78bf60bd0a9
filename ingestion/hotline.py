"""12345 / 400 hotline work-order exports: `hotline/*.csv`, one row per work-order version.

UTF-8, UTF-8 with BOM or GB18030; RFC 4180 quoting with commas, quotes and line breaks inside
诉求内容; Chinese header in any order, unknown columns kept in `extra`.
"""

from __future__ import annotations

import csv
import io
import re

import unicodedata

from ingestion.common import FileError, ReadResult, Rejected, RowError, clean, decode, header_name, parse_datetime
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


def read(data: bytes, name: str) -> ReadResult:
    text, encoding = decode(data)
    result = ReadResult(detail={"encoding": encoding})
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise FileError("the file is empty: no header row") from None
    except csv.Error as exc:
        raise FileError(f"the header row cannot be parsed as CSV: {exc}") from None
    header = [header_name(h, COLUMNS) for h in header]
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise FileError(f"the header names {', '.join(duplicated)} more than once; the columns are ambiguous")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise FileError(
            f"not a work-order export: the header lacks {', '.join(missing)} (found: {', '.join(header)[:300]})"
        )
    extras = [h for h in header if h not in COLUMNS]
    result.detail["extra_columns"] = extras

    undecodable = "\ufffd" in text
    line = reader.line_num
    while True:
        start = line + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # The csv module cannot resume after a broken record: account for the rest in one entry.
            rest = text.splitlines()[start - 1 :]
            result.rejected.append(
                Rejected(start, "\n".join(rest), f"CSV cannot be parsed from line {start} on: {exc}")
            )
            break
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # a blank line is not a record
        if len(fields) != len(header):
            result.rejected.append(
                Rejected(start, _raw_line(fields), f"the row has {len(fields)} fields where the header has {len(header)}; "
                                     "probably an unquoted comma or a missing column",
                         source_record_id=clean(fields[header.index("工单编号")]) if len(fields) > header.index("工单编号") else None)
            )
            continue
        row = dict(zip(header, fields))
        if undecodable and any("\ufffd" in f for f in fields):
            result.rejected.append(
                Rejected(start, _raw_line(fields), f"the row holds bytes that are not valid {encoding.upper()} (the export is damaged "
                                                        "here); the file's other rows are loaded",
                         source_record_id=clean(row.get("工单编号")))
            )
            continue
        try:
            record = _record(row)
        except RowError as exc:
            result.rejected.append(Rejected(start, _raw_line(fields), str(exc),
                                            source_record_id=clean(row.get("工单编号"))))
            continue
        record["row_number"] = start
        record["extra"] = {h: row[h] for h in extras if h and row[h] not in ("", None)} or None
        result.records.append(record)
    return result


def _raw_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()
