"""Reception-day, door-knocking and patrol logs: `reception/*.xlsx` (sometimes `*.csv`).

Kept by hand by community staff, one workbook per community and month, one or more sheets.
A merged title row may sit above the header; 日期 is an Excel date or text (`7月15日` takes its
year from the title or the file name); blank rows and a trailing 合计 row are not records;
merged cells inside the table hold their value for every row they span.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections import Counter

import openpyxl

from ingestion import pii
from ingestion.common import FileError, ReadResult, Rejected, RowError, clean, decode, parse_date

COLUMNS = {
    "序号": "serial_no",
    "日期": "entry_date",
    "方式": "method",
    "接待人员": "staff",
    "居民姓名": "resident_name",
    "联系方式": "resident_contact",
    "住址": "address",
    "反映问题": "issue_text",
    "问题类别": "issue_category",
    "处理情况": "handling",
    "是否办结": "is_closed",
    "备注": "remarks",
}
REQUIRED = ["日期", "反映问题"]
SUMMARY_MARKERS = ("合计", "总计", "小计")
HEADER_SEARCH_ROWS = 15
_YEAR_MONTH = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月")
_FILE_YEAR_MONTH = re.compile(r"(20\d{2})(\d{2})(?!\d)")
_COMMUNITY_IN_TITLE = re.compile(r"^\s*(.+?)(?:民意接待日|接待日|敲门|入户|巡查|日常|登记)")
_COMMUNITY_IN_NAME = re.compile(r"^reception_(.+?)_\d{6}", re.IGNORECASE)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_key(value) -> str:
    return re.sub(r"\s+", "", _cell_text(value))


class _Context:
    """What the file name and the title row tell about a sheet: year, month, community."""

    def __init__(self, name: str):
        self.name = name
        match = _FILE_YEAR_MONTH.search(name)
        self.year = int(match.group(1)) if match else None
        match = _COMMUNITY_IN_NAME.match(name.rsplit("/", 1)[-1])
        self.community = match.group(1) if match else None

    def with_title(self, lines: list[str]) -> "_Context":
        ctx = _Context(self.name)
        for line in lines:
            if match := _YEAR_MONTH.search(line):
                ctx.year = int(match.group(1))
            if match := _COMMUNITY_IN_TITLE.match(line):
                ctx.community = match.group(1).strip()
        ctx.year = ctx.year or self.year
        ctx.community = ctx.community or self.community
        return ctx


def _read_table(rows: list[tuple[int, list]], sheet: str, ctx: _Context, result: ReadResult,
                occurrences: Counter) -> bool:
    """Turn one sheet's rows (with their row numbers) into records. False when it has no header."""
    header_at = None
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = {_header_key(c) for c in cells}
        if all(r in keys for r in REQUIRED):
            header_at = position
            break
    if header_at is None:
        return False
    header = [_header_key(c) for c in rows[header_at][1]]
    ctx = ctx.with_title([" ".join(_cell_text(c) for c in cells) for _, cells in rows[:header_at]])
    index = {name: i for i, name in enumerate(header) if name in COLUMNS}
    extras = [(i, name) for i, name in enumerate(header) if name and name not in COLUMNS]

    for row_number, cells in rows[header_at + 1 :]:
        texts = [_cell_text(c) for c in cells]
        if not any(texts):
            continue  # a spacer row
        if any(t.startswith(SUMMARY_MARKERS) for t in texts):
            continue  # 合计 / 小计: a summary, not a record
        raw = " | ".join(texts).rstrip(" |")
        values = {target: (cells[index[source]] if source in index and index[source] < len(cells) else None)
                  for source, target in COLUMNS.items()}
        try:
            record = _record(values, ctx)
        except RowError as exc:
            result.rejected.append(Rejected(row_number, raw, str(exc), sheet=sheet))
            continue
        identity = "|".join(str(record[k] or "") for k in ("community", "entry_date", "method", "address", "issue_text"))
        occurrences[identity] += 1
        digest = hashlib.sha256(f"{identity}|{occurrences[identity]}".encode("utf-8")).hexdigest()
        record.update(
            entry_id=f"RC-{digest[:20]}",
            sheet=sheet,
            row_number=row_number,
            extra={name: _cell_text(cells[i]) for i, name in extras if i < len(cells) and _cell_text(cells[i])} or None,
        )
        result.records.append(record)
    return True


def _record(values: dict, ctx: _Context) -> dict:
    issue = clean(_cell_text(values["issue_text"]))
    if not issue:
        raise RowError("反映问题 is empty: the row records no issue")
    if not _cell_text(values["entry_date"]):  # None, "" or only spaces: parse_date would give None
        raise RowError("日期 is empty")
    entry_date = parse_date(values["entry_date"], default_year=ctx.year, field_name="日期")
    record = {target: clean(_cell_text(v)) for target, v in values.items() if target != "entry_date"}
    record.update(issue_text=issue, entry_date=entry_date, community=ctx.community)
    who = pii.person(record["resident_name"], record["resident_contact"])
    record["resident_key"] = who["key"]
    record["resident_name_masked"] = who["name_masked"]
    record["resident_contact_masked"] = who["phone_masked"]
    return record


def _fill_merged(sheet) -> list[tuple[int, list]]:
    grid = [list(row) for row in sheet.iter_rows(values_only=True)]
    top = sheet.min_row
    for merged in sheet.merged_cells.ranges:
        value = sheet.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                i = r - top
                if 0 <= i < len(grid):
                    row = grid[i]
                    row.extend([None] * (c - len(row)))
                    row[c - 1] = value
    return [(top + i, row) for i, row in enumerate(grid)]


def _read_workbook(data: bytes, name: str, result: ReadResult) -> None:
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt member makes openpyxl raise ParseError, IndexError, ...
        raise FileError(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc}); "
                        "save it again from Excel as .xlsx") from None
    ctx = _Context(name)
    occurrences: Counter = Counter()
    read_sheets, skipped = [], []
    for sheet in workbook.worksheets:
        rows = _fill_merged(sheet)
        if _read_table(rows, sheet.title, ctx, result, occurrences):
            read_sheets.append(sheet.title)
        elif any(_cell_text(c) for _, cells in rows for c in cells):
            skipped.append(sheet.title)
    result.detail.update(sheets=read_sheets, sheets_without_header=skipped)
    if not read_sheets:
        raise FileError("no sheet has a header row with 日期 and 反映问题 in its first "
                        f"{HEADER_SEARCH_ROWS} rows")


def _read_csv(data: bytes, name: str, result: ReadResult) -> None:
    text, encoding = decode(data)
    result.detail["encoding"] = encoding
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    rows = []
    try:
        for fields in reader:
            rows.append((reader.line_num, fields))
    except csv.Error as exc:
        raise FileError(f"the CSV cannot be parsed at line {reader.line_num}: {exc}") from None
    if not _read_table(rows, "csv", _Context(name), result, Counter()):
        raise FileError(f"no header row with 日期 and 反映问题 in the first {HEADER_SEARCH_ROWS} lines")


def read(data: bytes, name: str) -> ReadResult:
    if not data.strip():
        raise FileError("the file is empty")
    result = ReadResult()
    if name.lower().endswith(".csv"):
        _read_csv(data, name, result)
    else:
        _read_workbook(data, name, result)
    return result
