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

import msoffcrypto

from ingestion.common import (FileError, Layout, ReadResult, Rejected, RowError, clean, decode, header_name, parse_date,
                              read_whole)
from ingestion.contracts.reception import CONTRACT, SUMMARY_COLUMNS, SUMMARY_MARKERS
from minqing import privacy

COLUMNS = CONTRACT.header  # Chinese header -> raw column
REQUIRED = CONTRACT.required
HEADER_SEARCH_ROWS = 15
# The period a title names: `2026年7月` not followed by a day (`2026年1月5日` is a date, such as a 填报日期).
_PERIOD = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月(?!\s*\d{1,2}\s*[日号])")
# A title line that dates the form rather than naming its period.
_NOT_A_PERIOD = re.compile(r"填报|填表|制表|打印|报送|上报|更新|导出")
_FILE_YEAR_MONTH = re.compile(r"(?<!\d)(20\d{2})(\d{2})(?!\d)")
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
    return header_name(_cell_text(value), COLUMNS)


class _Context:
    """What the file name and the title rows tell about a sheet: its period (year, month) and community."""

    def __init__(self, name: str):
        self.name = name
        match = _FILE_YEAR_MONTH.search(name.rsplit("/", 1)[-1])
        self.period = (int(match.group(1)), int(match.group(2))) if match and 1 <= int(match.group(2)) <= 12 else None
        match = _COMMUNITY_IN_NAME.match(name.rsplit("/", 1)[-1])
        self.community = match.group(1) if match else None

    @property
    def year(self) -> int | None:
        return self.period[0] if self.period else None

    def with_title(self, lines: list[str]) -> "_Context":
        """The sheet's context: the period its title names (a 填报日期 or any full date is not a
        period), checked against the file name's; a disagreement is refused, naming both."""
        ctx = _Context(self.name)
        periods = {(int(m.group(1)), int(m.group(2)))
                   for line in lines if not _NOT_A_PERIOD.search(line) for m in _PERIOD.finditer(line)}
        for line in lines:
            if match := _COMMUNITY_IN_TITLE.match(line):
                ctx.community = match.group(1).strip()
        if len(periods) > 1:
            raise FileError(f"the title rows name more than one period ({', '.join(f'{y}年{m}月' for y, m in sorted(periods))}); "
                            "which month the sheet covers cannot be told")
        if periods:
            (title_period,) = periods
            if self.period and title_period != self.period:
                raise FileError(f"the file name says {self.period[0]}年{self.period[1]}月 but the title says "
                                f"{title_period[0]}年{title_period[1]}月; correct the one that is wrong and deliver it again")
            ctx.period = title_period
        ctx.period = ctx.period or self.period
        ctx.community = ctx.community or self.community
        return ctx


_A_COUNT = re.compile(r"^(共计|共|合计|总计|小计)?[:：]?\s*\d+\s*(件|户|次|条|项|起|人|个)?$")


def _is_summary(texts: list[str], header: list[str], entry_date, issue) -> bool:
    """A total, not an entry: 合计 / 总计 / 小计 in a leading column (序号, 日期, 方式, or the first
    cell), no date, and no issue of its own (反映问题 empty, a count such as `共12件`, or the marker).
    Anything else is a record: an entry whose text begins with such a word (反映问题 "合计走访12户…",
    处理情况 "合计上门两次") is loaded, and a marked row with an issue but no date is quarantined."""
    leading = {i for i, name in enumerate(header) if name in SUMMARY_COLUMNS} | {0}
    if not any(i < len(texts) and texts[i].startswith(SUMMARY_MARKERS) for i in leading):
        return False
    if isinstance(entry_date, (dt.date, dt.datetime)):
        return False
    date_text, issue_text = _cell_text(entry_date), _cell_text(issue)
    no_date = not date_text or date_text.startswith(SUMMARY_MARKERS) or not re.search(r"\d", date_text)
    no_issue = not issue_text or issue_text in SUMMARY_MARKERS or bool(_A_COUNT.match(issue_text))
    return no_date and no_issue


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
        values = {target: (cells[index[source]] if source in index and index[source] < len(cells) else None)
                  for source, target in COLUMNS.items()}
        if _is_summary(texts, header, values["entry_date"], values["issue_text"]):
            result.detail.setdefault("summary_rows", []).append(f"{sheet}!{row_number}")
            continue  # 合计 / 小计: a summary, not a record
        raw = " | ".join(texts).rstrip(" |")
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
    record.update(privacy.pseudonymise(CONTRACT.person, record))
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


def _not_a_workbook(data: bytes) -> str | None:
    """Why the bytes are no .xlsx, when they are an Office container openpyxl cannot open."""
    if not data.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE compound file, not a zip
        return None
    try:
        encrypted = msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted()
    except Exception:  # noqa: BLE001 - not an Office file msoffcrypto knows
        encrypted = False
    if encrypted:
        return ("the workbook is encrypted (password-protected): remove its password in Excel or WPS "
                "(文件 > 信息 > 保护工作簿 > 用密码进行加密, clear the password), save, and deliver it again")
    return "it is an Excel 97-2003 workbook (.xls), not .xlsx: open it in Excel or WPS and save it as .xlsx"


def _read_workbook(data: bytes, name: str, result: ReadResult) -> None:
    if reason := _not_a_workbook(data):
        raise FileError(reason)
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


def layout_of(head: bytes, name: str, size: int) -> Layout:
    """A workbook (or a hand-kept CSV) is read whole: a month's register of one community."""
    return Layout(detail={}, split="whole", state={"name": name})


def parse(body: bytes, first_line: int, layout: Layout, last: bool):
    if not body.strip():
        raise FileError("the file is empty")
    name = layout.state["name"]
    result = ReadResult(detail=layout.detail)
    if name.lower().endswith(".csv"):
        _read_csv(body, name, result)
    else:
        _read_workbook(body, name, result)
    yield from result.records
    yield from result.rejected


def read(data: bytes, name: str) -> ReadResult:
    return read_whole(layout_of, parse, data, name)
