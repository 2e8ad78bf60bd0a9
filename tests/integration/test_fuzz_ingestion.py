"""Property-based fuzzing of the ingestion: hostile source files, within and beyond the contract.

Reader level (no database, many examples): random bytes for every reader; hotline and reception
CSVs built to the contract and then broken (other encodings, truncation, NUL and stray bytes,
line-ending mixes, missing / duplicate / extra / reordered columns, ragged rows, fields of hundreds
of KB); mini-program JSON lines with wrong types in every field, deep nesting, lone surrogates,
NaN / Infinity, integers beyond Python's digit limit, impossible dates and a cut-off last line;
reception workbooks built with openpyxl with formulas, long strings, numbers as dates, merged
ranges in odd places, empty sheets and sheets without a header, and workbooks whose zip members are
corrupt. Every text field carries SQL and COPY payloads. For each file a reader either raises
FileError or returns a ReadResult in which every row is in exactly one place.

Loader level (real PostgreSQL, fewer examples): hostile files under hostile names in a landing
folder; `ingest` never raises, the reports add up and agree with ops.ingested_files, the quarantine
and the raw tables hold exactly what the reports say, the text is stored verbatim (so no payload
was interpreted), and a second run finds every file a duplicate.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ingestion import chunks, hotline, miniprogram, reception
from minqing import privacy
from ingestion.common import CutShort, FileError, ReadResult, RowError, decode, parse_datetime
from ingestion.loader import ingest
from minqing import config

# derandomize: the same examples on every machine and every run, so CI failures reproduce.
settings.register_profile(
    "minqing-fuzz",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("minqing-fuzz")

# openpyxl warns when a date-formatted cell holds a number outside the date range; that is the point.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

READERS = {"hotline": hotline.read, "miniprogram": miniprogram.read, "reception": reception.read}
NAMES = {"hotline": "hotline/fuzz_20260715.csv", "miniprogram": "miniprogram/fuzz_20260715.jsonl",
         "reception": "reception/reception_望园社区_202607.xlsx", "reception_csv": "reception/fuzz_202607.csv"}

# --- what hostile text is made of ------------------------------------------------------------------

SQL_PAYLOADS = (
    "'); drop table raw.quarantine; --",
    "x'; drop table raw.hotline_work_orders; --",
    "\\copy raw.quarantine to '/tmp/minqing_fuzz_leak.csv'",
    "$$; drop schema raw cascade; $$",
    "$q$ select pg_sleep(30) $q$",
    "\\.", "\n\\.\n", "\\N", "\\\\N", "\\", "\\\\", "a\tb\tc", "line\nbreak", "cr\ronly", "crlf\r\n",
    "\\x00", "E'\\047'", "%s", "%(x)s", "{0}", "'", '"', '""', ",", ";", "--", "/*", "*/",
    "=cmd|' /C calc'!A0", '=HYPERLINK("http://example.invalid/x","点我")', "+1+1", "@SUM(A1)", "-2+3",
    "<script>alert(1)</script>", "${jndi:ldap://example.invalid/a}", "\u202e反转", "\ufeff", "\u2028",
    "\x85", "\x1c\x1d\x1e", "\x00", "nul\x00inside", "\ufffd", "匿名", "138****5678", "+86 13812345678",
)
_CJK = "诉求楼道漏水望园社区丰台区六里桥街道号楼单元暖气不热噪音扰民停车难物业费垃圾清运投诉求助"
_piece = st.one_of(
    st.sampled_from(SQL_PAYLOADS),
    st.text(alphabet=_CJK + "0123456789 ,\"'\\\t\n\r;$", max_size=16),
    st.text(max_size=10),  # any code point except surrogates
    st.text(alphabet=st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\x85\u2028\u2029\ufeff\ufffd"),
            max_size=4),  # NUL, control characters, separators
)
hostile_text = st.lists(_piece, max_size=3).map("".join)
SURROGATES = ("\ud800", "a\udfffb", "\ud83d", "\udc00\ud800", "ok\udbff")

DATE_TEXTS = (
    "2026-07-15 08:03:11", "2026/7/15 8:03", "2026年7月15日 08:03", "2026-07-15T08:03:11+08:00",
    "2026-07-15T00:03:11Z", "46218.33542", "1784073791000", "7月15日", "2026.7.15",
    "0001-01-01 00:00:00", "9999-12-31 23:59:59", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
    "1000000000000000000", "1e18", "-1", "-1e18", "99999999999999999999", "9" * 400, "nan", "inf",
    "NaN", "Infinity", "0", "60", "29999.999", "30000", "60000", "60000.0001", "2958465", "2958466",
    "2026-02-30", "2026/13/01", "2026.13.45", "2026-07-15 25:61:61", "昨天下午", "１２３４５", "٤٦٢١٨",
    "2026年13月45日", "13月45日", "2026-07-15 08:03:11 +99:99", "10:00", "2026/7/15 ' or 1=1 --", " ", "\t\u3000",
)
DATE_NUMBERS = (0, 1, -1, 60, 29999.999, 30000, 46218, 46218.33542, 60000, 60000.0001, 2958465, 2958466,
                1e11, 1e11 + 1, 1784073791000, 1e14, 1e15, 1e17, 1e18, -1e18, 2**63, -2**63, 10**30, 10**400,
                float("nan"), float("inf"), float("-inf"), 5e-324, -0.0)
date_text = st.one_of(st.sampled_from(DATE_TEXTS), hostile_text)
date_number = st.one_of(st.sampled_from(DATE_NUMBERS), st.integers(), st.floats())

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile_text,
                        st.sampled_from(SURROGATES))
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=6)

# --- the invariant every reader owes ---------------------------------------------------------------

REQUIRED_FIELDS = {
    "hotline": ("work_order_id", "intake_line", "received_at", "updated_at", "row_number"),
    "miniprogram": ("ticket_id", "submitted_at", "updated_at", "is_resident_demand", "row_number"),
    "reception": ("entry_id", "sheet", "row_number", "entry_date", "issue_text"),
}
_RULES = config.settings()["ingestion"]
EARLIEST = dt.datetime.fromisoformat(_RULES["earliest_valid_date"]).replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))


def check_result(channel: str, result: ReadResult) -> None:
    """Every row in exactly one place, each rejection with a reason, each record complete and plausible."""
    assert isinstance(result, ReadResult)
    assert result.rows_in == len(result.records) + len(result.rejected)
    for rejected in result.rejected:
        assert isinstance(rejected.reason, str) and rejected.reason.strip(), rejected
        assert isinstance(rejected.raw_content, str)
    places = []
    latest = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=_RULES["max_future_days"] + 1)
    for record in result.records:
        for field in REQUIRED_FIELDS[channel]:
            assert record.get(field) not in (None, ""), (field, record)
        for key, value in record.items():
            if isinstance(value, dt.datetime):
                assert value.tzinfo is not None and EARLIEST <= value <= latest, (key, value)
            elif isinstance(value, dt.date):
                assert EARLIEST.date() <= value <= latest.date(), (key, value)
        assert isinstance(record["row_number"], int) and 0 < record["row_number"] < 2**31
        places.append((record.get("sheet"), record["row_number"]))
    places += [(r.sheet, r.row_number) for r in result.rejected if r.row_number is not None]
    assert len(places) == len(set(places)), "a row is both loaded and rejected, or taken twice"


def read(channel: str, data: bytes, name: str) -> ReadResult | None:
    """The reader's result, checked; None when the file is refused whole (the one allowed exception)."""
    try:
        result = READERS[channel](data, name)
    except FileError as exc:
        assert str(exc).strip()
        event(f"{channel}: FileError")
        return None
    check_result(channel, result)
    event(f"{channel}: {'records' if result.records else 'rejections only' if result.rejected else 'no rows'}")
    return result


# --- CSV files to the contract, then broken ----------------------------------------------------------

HOTLINE_COLUMNS = list(hotline.COLUMNS)
RECEPTION_COLUMNS = list(reception.COLUMNS)
_valid_work_order_id = st.one_of(
    st.integers(0, 10**13 - 1).map(lambda n: f"GD{n:013d}"),
    st.integers(0, 9999).map(lambda n: f"400-20260715-{n:04d}"),
)


VALID_DATES = DATE_TEXTS[:9]
HOTLINE_DATES = tuple(d for d in VALID_DATES if d != "7月15日")  # a hotline export knows no default year


def _hotline_value(column: str, plausible: bool):
    """A plausible row has a valid id and times, so that it loads with payloads in every free-text field."""
    if column == "工单编号":
        return _valid_work_order_id if plausible else st.one_of(_valid_work_order_id, hostile_text,
                                                                 st.integers().map(str))
    if column == "来源":
        return st.just("") if plausible else st.one_of(st.sampled_from(["12345", "400", "12345.0", "400 "]),
                                                       hostile_text)
    if column in hotline.TIME_COLUMNS:
        if plausible:
            return st.sampled_from(HOTLINE_DATES) if column in hotline.REQUIRED \
                else st.sampled_from(HOTLINE_DATES + ("", " "))
        return st.one_of(st.sampled_from(VALID_DATES), date_text)
    return hostile_text


def _reception_value(column: str, plausible: bool):
    if column == "日期":
        return st.sampled_from(VALID_DATES) if plausible else st.one_of(st.sampled_from(VALID_DATES), date_text)
    if column == "反映问题":
        return st.one_of(st.just("楼道堆物"), hostile_text)
    if column == "序号":
        return st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["合计", "小计", "总计：3件"]), hostile_text)
    return hostile_text


@st.composite
def csv_table(draw, columns: list[str], required: list[str], value_for, huge: bool = True, sound: bool = False,
              max_rows: int = 6):
    """A CSV as text, and how many non-blank rows it holds and whether its header is sound.

    The header is reordered, may lose columns (required ones too), gain unknown or duplicate ones, or
    be absent; rows may be ragged or blank; one field may be hundreds of KB; line endings are mixed.
    `sound`: the header only reordered and extended, and at least one row.
    """
    header = list(draw(st.permutations(columns)))
    if not sound and draw(st.integers(0, 5)) == 0:
        header = [h for h in header if h not in draw(st.sets(st.sampled_from(columns), max_size=3))]
    for _ in range(draw(st.integers(0, 2))):
        header.insert(draw(st.integers(0, len(header))), draw(hostile_text))
    if not sound and header and draw(st.integers(0, 9)) == 0:
        header.append(draw(st.sampled_from(header)))
    has_header = sound or draw(st.integers(0, 14)) != 0
    rows = []
    for _ in range(draw(st.integers(1 if sound else 0, max_rows))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            rows.append(list(draw(st.sampled_from([[], [""], [" ", "\t"], [""] * len(header)]))))
            continue
        plausible = draw(st.booleans())
        row = [draw(value_for(h if h in columns else "", plausible)) for h in header]
        if kind == 1:
            row += draw(st.lists(hostile_text, min_size=1, max_size=2))  # an unquoted comma, an extra column
        elif kind == 2 and row:
            row = row[: draw(st.integers(0, len(row) - 1))]  # a missing column
        rows.append(row)
    if huge and rows and draw(st.integers(0, 9)) == 0:  # one field of hundreds of KB
        target = draw(st.integers(0, len(rows) - 1))
        seed = draw(st.sampled_from(("楼上卫生间漏水，顺着墙往下流。",) + SQL_PAYLOADS))
        size = draw(st.integers(100_000, 400_000))
        if rows[target]:
            rows[target][draw(st.integers(0, len(rows[target]) - 1))] = (seed * (size // max(len(seed), 1) + 1))[:size]
    lines = [header] if has_header else []
    lines += rows
    out = []
    for fields in lines:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerow(fields)  # so that \r and \n in a field are quoted
        out.append(buffer.getvalue().removesuffix("\r\n") + draw(st.sampled_from(["\r\n", "\n", "\r"])))
    text = "".join(out)
    names = [h.strip().lstrip("\ufeff") for h in header]  # as the reader sees them
    header_sound = has_header and all(r in names for r in required) \
        and not any(h and names.count(h) > 1 for h in names)
    nonblank = sum(1 for r in rows if any(f.strip() for f in r))
    return text, nonblank, header_sound


ENCODINGS = ("utf-8",) * 5 + ("utf-8-sig", "gb18030", "gb18030", "utf-16", "utf-16-be", "latin-1", "cp1252", "big5")
CLEAN_ENCODINGS = {"utf-8", "utf-8-sig", "gb18030"}


@st.composite
def mutated(draw, data: bytes) -> tuple[bytes, bool]:
    """Bytes broken in one way or another; True when they were left intact."""
    kind = draw(st.sampled_from(["none"] * 6 + ["truncate", "nul", "bytes", "cr", "lf", "flip"]))
    if kind == "none" or not data:
        return data, True
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))], False
    if kind in ("nul", "bytes"):
        data = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data)))
            data[at:at] = b"\x00" if kind == "nul" else draw(st.binary(min_size=1, max_size=6))
        return bytes(data), False
    if kind == "cr":
        return data.replace(b"\n", b"\r"), False
    if kind == "lf":
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"), False
    data = bytearray(data)
    at = draw(st.integers(0, len(data) - 1))
    data[at] ^= draw(st.integers(1, 255))
    return bytes(data), False


@st.composite
def hostile_csv(draw, channel: str, huge: bool = True, sound: bool = False) -> tuple[bytes, int | None]:
    """CSV bytes for a channel, and the exact number of rows a reader must account for when it is intact."""
    columns, required, value_for = (
        (HOTLINE_COLUMNS, hotline.REQUIRED, _hotline_value) if channel == "hotline"
        else (RECEPTION_COLUMNS, reception.REQUIRED, _reception_value))
    if channel == "reception" and draw(st.booleans()):
        title = draw(st.sampled_from(["望园社区民意接待日登记表（2026年7月）", "'); drop table raw.quarantine; --", ""]))
        prefix = title + "\r\n"
    else:
        prefix = ""
    text, nonblank, header_sound = draw(csv_table(columns, required, value_for, huge, sound))
    encoding = draw(st.sampled_from(sorted(CLEAN_ENCODINGS) if sound else ENCODINGS))
    data = (prefix + text).encode(encoding, errors="replace")
    data, intact = (data, True) if sound else draw(mutated(data))
    # Summary rows (合计) are not records in a reception log, so only the hotline count is exact.
    exact = intact and header_sound and encoding in CLEAN_ENCODINGS and channel == "hotline" and not prefix
    return data, nonblank if exact else None


# --- JSON lines -------------------------------------------------------------------------------------

_time_value = st.one_of(st.sampled_from(DATE_TEXTS[:5]), st.sampled_from([1784073791000]), date_text, date_number,
                        json_value)


@st.composite
def ticket(draw) -> dict:
    """A ticket with a wrong type in any field; or, half the time, a plausible one with payloads in its text."""
    plausible = draw(st.booleans())

    def maybe(strategy):  # the field as the contract says, or any JSON value at all
        return strategy if plausible else st.one_of(strategy, json_value)

    valid_time = st.sampled_from(VALID_DATES[3:5] + (1784073791000, "2026-07-15T08:03:11.123456+08:00"))
    time_value = valid_time if plausible else _time_value
    fields = {
        "ticket_id": st.integers(0, 10**9).map(lambda n: f"MP{n}") if plausible else st.one_of(
            st.integers(0, 10**9).map(lambda n: f"MP{n}"), hostile_text, json_value,
            st.sampled_from(SURROGATES + ("\x00", "MP\x00"))),
        "type": maybe(st.sampled_from(["repair", "complaint", "bill_payment", "decoration_application"])),
        "submitted_at": time_value,
        "updated_at": time_value,
        "community": maybe(hostile_text), "project_code": maybe(hostile_text),
        "location": maybe(st.fixed_dictionaries({}, optional={"building": hostile_text, "unit": hostile_text,
                                                              "room": maybe(hostile_text)})),
        "title": maybe(hostile_text), "content": maybe(hostile_text),
        "images": maybe(st.lists(hostile_text, max_size=2)),
        "user": maybe(st.fixed_dictionaries({}, optional={
            "openid": maybe(st.sampled_from(("oXabc",) + SURROGATES)),
            "nickname": maybe(hostile_text),
            "phone": maybe(st.sampled_from(["13812345678", "+86 138 1234 5678", "138****5678", "010-63812345",
                                            "\ud800", "1381234567\x00"]))})),
        "status": maybe(st.sampled_from(["submitted", "dispatched", "completed", "cancelled"])),
        "events": maybe(st.lists(maybe(st.fixed_dictionaries({"status": hostile_text}, optional={
            "at": time_value, "by": maybe(hostile_text)})), max_size=3)),
        "rating": maybe(st.sampled_from([None, 1, 5, "好"])), "rating_comment": maybe(hostile_text),
    }
    required = {"ticket_id", "submitted_at"} if plausible else set()
    present = draw(st.sets(st.sampled_from(list(fields)), max_size=len(fields))) | required \
        if draw(st.integers(0, 3)) == 0 else set(fields)
    value = {name: draw(strategy) for name, strategy in fields.items() if name in present}
    value.update(draw(st.dictionaries(hostile_text, maybe(hostile_text), max_size=2)))  # fields nobody announced
    return value


@st.composite
def deep_line(draw) -> str:
    """A ticket with thousands of levels of nesting somewhere: written by hand, json.dumps would recurse."""
    depth = draw(st.integers(1, 5000))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opening * depth + draw(st.sampled_from(["1", "null", '"\\ud800"', "NaN"])) + closing * depth
    where = draw(st.sampled_from(["ticket_id", "location", "events", "extra_field", "submitted_at"]))
    return ('{"ticket_id": "MP1", "submitted_at": "2026-07-15T08:00:00+08:00", "%s": %s}' % (where, nested))


@st.composite
def jsonl_line(draw) -> str:
    kind = draw(st.sampled_from(["ticket"] * 6 + ["deep", "not_object", "garbage", "blank", "bigint", "constant"]))
    if kind == "ticket":
        return json.dumps(draw(ticket()), ensure_ascii=draw(st.booleans()))
    if kind == "deep":
        return draw(deep_line())
    if kind == "not_object":
        return json.dumps(draw(json_value))
    if kind == "garbage":
        return draw(hostile_text)
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\t", "\r"]))
    if kind == "bigint":  # beyond Python's 4300-digit limit for int(); json.dumps cannot write it
        digits = "9" * draw(st.integers(4000, 6000))
        where = draw(st.sampled_from(["submitted_at", "rating", "extra_field"]))
        return '{"ticket_id": "MP2", "submitted_at": "2026-07-15T08:00:00+08:00", "%s": %s}' % (where, digits)
    constant = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]))
    where = draw(st.sampled_from(["submitted_at", "updated_at", "images", "rating", "extra_field", "events"]))
    if where in ("images", "events"):
        constant = "[%s]" % constant if where == "images" else '[{"status": "x", "at": %s}]' % constant
    return '{"ticket_id": "MP3", "submitted_at": "2026-07-15T08:00:00+08:00", "%s": %s}' % (where, constant)


@st.composite
def hostile_jsonl(draw, sound: bool = False) -> tuple[bytes, int | None]:
    """JSON lines; `sound`: UTF-8, at least one line, not cut off, not mutated."""
    lines = draw(st.lists(jsonl_line(), min_size=1 if sound else 0, max_size=8))
    text = "".join(line + draw(st.sampled_from(["\n", "\r\n"])) for line in lines)
    if not sound and text and draw(st.integers(0, 3)) == 0:  # the pull broke off
        text = text[: draw(st.integers(0, len(text) - 1))]
    encoding = "utf-8" if sound else draw(st.sampled_from(["utf-8"] * 5 + ["gb18030", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="surrogatepass" if encoding == "utf-8" else "replace")
    data, intact = (data, True) if sound else draw(mutated(data))
    exact = None
    if intact and encoding == "utf-8" and data.strip():
        decoded, _ = decode(data)
        exact = sum(1 for line in decoded.split("\n") if line.strip())
    return data, exact


# --- workbooks --------------------------------------------------------------------------------------

_cell_text = hostile_text.map(lambda s: ILLEGAL_CHARACTERS_RE.sub("", s))
_cell_int = st.integers(-(10**300), 10**300)  # openpyxl cannot write an integer beyond a float's range
_cell_number = st.sampled_from([n for n in DATE_NUMBERS if abs(n) < 1e300 or n != n or abs(n) == float("inf")])
_formula = st.sampled_from(["=cmd|' /C calc'!A0", '=HYPERLINK("http://example.invalid/x","点我")', "=1/0",
                            "=NOW()", "=SUM(A1:A3)", "=A1", "='); drop table raw.quarantine; --"])
_date_cell = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    st.sampled_from([dt.datetime(2026, 7, 15), dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59),
                     dt.datetime(1900, 2, 28), dt.date(2026, 7, 15), dt.time(8, 3), dt.timedelta(days=3)]),
    _cell_number, _cell_int, st.floats(), _cell_text.filter(lambda s: not s.startswith("=")),
    st.sampled_from(DATE_TEXTS), st.just(True), st.none(), _formula,
)


def _reception_cell(column: str, plausible: bool = False):
    if column == "日期":
        return st.sampled_from([dt.datetime(2026, 7, 15), dt.date(2026, 7, 20), "7月15日", "2026.7.15", 46218,
                                "2026-07-15"]) if plausible else _date_cell
    if column == "反映问题" and plausible:
        return _cell_text.map(lambda s: "楼道堆物" + s)
    if column == "反映问题":
        return st.one_of(st.just("楼道堆物"), _cell_text, _formula, _cell_int, st.none())
    return st.one_of(_cell_text, _formula, _cell_int, st.floats(), st.none(), _date_cell)


SHEET_TITLES = ("7月", "敲门行动", "'); drop table raw.quarantine; --", "$$ x $$", "巡查 (2)", "Sheet", "合计")


@st.composite
def hostile_workbook(draw, huge: bool = True, sound: bool = False) -> bytes:
    """A workbook of one to three sheets; `sound`: the first sheet is a table."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for number in range(draw(st.integers(1, 3))):
        sheet = book.create_sheet(draw(st.sampled_from(SHEET_TITLES)))
        kind = "table" if sound and number == 0 else draw(st.sampled_from(["table"] * 3 + ["empty", "no_header"]))
        width = len(RECEPTION_COLUMNS) + 2
        if kind == "no_header":
            for _ in range(draw(st.integers(1, 4))):
                sheet.append(draw(st.lists(_reception_cell(""), max_size=width)))
        elif kind == "table":
            for _ in range(draw(st.sampled_from([0, 0, 1, 2, 16]))):  # 16: the header is beyond the search
                sheet.append([draw(st.sampled_from(["望园社区民意接待日登记表（2026年7月）", "金二社区入户登记",
                                                    "'); drop table raw.quarantine; --"]))])
            header = list(draw(st.permutations(RECEPTION_COLUMNS)))
            if draw(st.integers(0, 4)) == 0:
                header = [h for h in header if h not in draw(st.sets(st.sampled_from(RECEPTION_COLUMNS), max_size=3))]
            if draw(st.integers(0, 4)) == 0:
                header.insert(draw(st.integers(0, len(header))), draw(st.sampled_from(["日 期", "日期", "备注", "新列"])))
            sheet.append(header)
            for _ in range(draw(st.integers(0, 6))):
                if draw(st.integers(0, 7)) == 0:
                    sheet.append(draw(st.sampled_from([[], ["合计", None, None, "4件"], [None, "小计"]])))
                    continue
                plausible = draw(st.booleans())
                cells = [draw(_reception_cell(h, plausible)) for h in header]
                if huge and draw(st.integers(0, 15)) == 0:  # a very long string
                    cells[draw(st.integers(0, len(cells) - 1))] = "楼道堆物，" * draw(st.integers(10_000, 60_000))
                sheet.append(cells)
            date_column = header.index("日期") + 1 if "日期" in header else None
            if date_column and draw(st.booleans()):  # numbers in date-formatted cells
                for row in range(1, sheet.max_row + 1):
                    sheet.cell(row, date_column).number_format = "yyyy-mm-dd"
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(draw(st.integers(0, 3))):  # merged ranges in odd places
            top, left = draw(st.integers(1, sheet.max_row + 2)), draw(st.integers(1, width))
            bottom, right = top + draw(st.integers(0, 3)), left + draw(st.integers(0, 4))
            if all(bottom < t or top > b or right < l or left > r for t, l, b, r in taken):
                sheet.merge_cells(start_row=top, start_column=left, end_row=bottom, end_column=right)
                taken.append((top, left, bottom, right))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@st.composite
def corrupt_workbook(draw, huge: bool = True) -> bytes:
    """A workbook one of whose zip members is replaced, dropped or cut: what a broken copy looks like."""
    data = draw(hostile_workbook(huge))
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        members = source.namelist()
        victim = draw(st.sampled_from(members))
        how = draw(st.sampled_from(["garbage", "drop", "cut", "empty"]))
        for member in members:
            content = source.read(member)
            if member == victim:
                if how == "drop":
                    continue
                content = {"garbage": draw(st.binary(max_size=64)) + b"<x", "cut": content[: len(content) // 2],
                           "empty": b""}[how]
            target.writestr(member, content)
    return out.getvalue()


# --- reader level -----------------------------------------------------------------------------------

@settings(FUZZ, max_examples=300)
@given(channel=st.sampled_from(["hotline", "miniprogram", "reception", "reception_csv"]),
       data=st.one_of(st.binary(max_size=2000), st.binary(max_size=64).map(lambda b: b"PK\x03\x04" + b)))
def test_random_bytes(channel, data):
    read(channel.removesuffix("_csv"), data, NAMES[channel])


@settings(FUZZ, max_examples=200)
@given(st.data())
def test_hostile_hotline_csv(data):
    content, exact = data.draw(hostile_csv("hotline"))
    result = read("hotline", content, NAMES["hotline"])
    if exact is not None:  # an intact export with a sound header: no row lost, none invented
        assert result is not None and result.rows_in == exact


@settings(FUZZ, max_examples=120)
@given(st.data())
def test_hostile_reception_csv(data):
    content, _ = data.draw(hostile_csv("reception"))
    read("reception", content, NAMES["reception_csv"])


def _chunked(channel: str, data: bytes, chunk_bytes: int, processes: int = 1):
    """The file as the loader reads it, in chunks of `chunk_bytes`: its COPY text, rows loaded and
    rejected rows (a CutShort entry's text to its first 1,000 characters: the rest is capped)."""
    file = io.BytesIO(data)
    layout = chunks.READERS[channel].layout_of(chunks.head(file), NAMES[channel], len(data))
    got = list(chunks.parts(channel, file, layout, None, 1, len(data), processes=processes, chunk_bytes=chunk_bytes))
    rejected = [(r.row_number, r.reason, r.source_record_id,
                 r.raw_content[:1000] if isinstance(r, CutShort) else r.raw_content) for p in got for r in p.rejected]
    return b"".join(p.copy_data for p in got), sum(p.loaded for p in got), rejected


@settings(FUZZ, max_examples=300)
@given(st.data())
def test_a_file_read_in_chunks_is_the_file_read_whole(data):
    """Cut anywhere the chunker cuts (records across chunk ends, quoted line breaks, CRLF, a cut-off
    last line, a broken record), the rows and rejections are those of the file read in one piece."""
    channel = data.draw(st.sampled_from(["hotline", "miniprogram"]))
    content, _ = data.draw(hostile_csv("hotline") if channel == "hotline" else hostile_jsonl())
    try:
        whole = _chunked(channel, content, 1 << 40)
    except FileError:
        return  # refused at its header: there are no chunks
    assert _chunked(channel, content, data.draw(st.integers(1, 400))) == whole


def test_a_large_file_parsed_by_workers_is_the_file_parsed_here(monkeypatch):
    rows = [_order_row(i) for i in range(3000)]
    content = ("\ufeff" + ",".join(HOTLINE_COLUMNS) + "\r\n" + "\r\n".join(rows) + "\r\n").encode("utf-8")
    monkeypatch.setattr(chunks, "PARALLEL_MIN_BYTES", 0)
    here = _chunked("hotline", content, 10_000, processes=1)
    assert here[1] == 3000 - 300 and len(here[2]) == 300
    assert _chunked("hotline", content, 10_000, processes=2) == here


def _order_row(i: int) -> str:
    """A work order whose text holds a quoted line break, a doubled quote and a comma; every tenth
    is missing its 来电时间."""
    values = {"工单编号": f"GD{i:013d}", "来源": "12345", "来电时间": "" if i % 10 == 0 else "2026-07-15 08:03:11",
              "诉求内容": f'"第{i}件，楼道""灯""坏了\n三天了"', "更新时间": "2026-07-15 09:00:00"}
    return ",".join(values.get(c, "") for c in HOTLINE_COLUMNS)


@settings(FUZZ, max_examples=200)
@given(hostile_jsonl())
def test_hostile_miniprogram_jsonl(file):
    content, exact = file
    result = read("miniprogram", content, NAMES["miniprogram"])
    if exact is not None:  # every non-blank line is a record or a rejection
        assert result is not None and result.rows_in == exact


@settings(FUZZ, max_examples=60)
@given(hostile_workbook())
def test_hostile_reception_workbook(content):
    result = read("reception", content, NAMES["reception"])
    if result is not None:
        book = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
        assert {r["sheet"] for r in result.records} <= set(book.sheetnames)


@settings(FUZZ, max_examples=40)
@given(corrupt_workbook())
def test_corrupt_workbook(content):
    read("reception", content, NAMES["reception"])


# --- loader level -----------------------------------------------------------------------------------

FILE_NAMES = (
    "a_20260715", "'); drop table raw.quarantine; --", "$$ dollar $$", "back\\slash", "tab\there", "new\nline",
    "望园 社区 (1)", "reception_望园社区_202607", "\\copy x", "%s%(x)s", "semi;colon", "quote\"d",
)
NON_UTF8_NAMES = ("接待_望园社区_202607".encode("gbk"), b"\xff\xfe", b"caf\xe9")


@st.composite
def landing_files(draw) -> list[tuple[str, bytes, bytes]]:
    """(channel folder, file name as bytes, content) for a landing folder of hostile files."""
    files = []
    for index in range(draw(st.integers(1, 5))):
        channel = draw(st.sampled_from(["hotline", "miniprogram", "reception", "reception_csv"]))
        sound = draw(st.booleans())  # half the files readable, so that rows with payloads reach the tables
        if channel == "hotline":
            content, suffix = draw(hostile_csv("hotline", huge=False, sound=sound))[0], ".csv"
        elif channel == "miniprogram":
            content, suffix = draw(hostile_jsonl(sound))[0], ".jsonl"
        elif channel == "reception":
            content = draw(hostile_workbook(False, sound) if sound else
                           st.one_of(hostile_workbook(False), corrupt_workbook(False)))
            suffix = ".xlsx"
        else:
            content, suffix = draw(hostile_csv("reception", huge=False, sound=sound))[0], ".csv"
        folder = channel.removesuffix("_csv")
        if draw(st.integers(0, 9)) == 0:
            suffix = draw(st.sampled_from([".txt", ".CSV", ".xlsx.bak", ""]))
        stem = draw(st.one_of(st.sampled_from(FILE_NAMES).map(str.encode), st.sampled_from(NON_UTF8_NAMES)))
        subdir = draw(st.sampled_from([b"", b"", b"2026/07/"]))
        files.append((folder, subdir + b"%d_" % index + stem + suffix.encode(), content))
    if draw(st.integers(0, 3)) == 0:  # a re-delivery, byte-identical, under another name
        folder, name, content = draw(st.sampled_from(files))
        files.append((draw(st.sampled_from(["hotline", "miniprogram", "reception"])), b"copy_" + name.split(b"/")[-1],
                      content))
    return files


RAW_TABLES = {"hotline": "raw.hotline_work_orders", "miniprogram": "raw.miniprogram_tickets",
              "reception": "raw.reception_entries"}
VERBATIM = {"hotline": ("content", "address", "complainant_name", "status"),
            "miniprogram": ("ticket_id", "title", "content", "community"),
            "reception": ("issue_text", "address", "remarks", "staff")}


def _write_landing(root: Path, files) -> None:
    for folder, name, content in files:
        path = os.path.join(os.fsencode(root), folder.encode(), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)


def _counts(conn) -> dict[str, int]:
    tables = [*RAW_TABLES.values(), "raw.quarantine", "ops.ingested_files", "ops.file_sightings"]
    for table in tables:  # no payload dropped anything
        assert conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is not None, table
    return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def check_warehouse(conn, contents: dict[str, bytes], reports) -> None:
    """The reports add up, and the warehouse holds exactly what they say, verbatim."""
    fresh = [r for r in reports if r.status != "duplicate"]
    for report in reports:
        assert report.status in ("loaded", "quarantined", "duplicate")
        assert report.rows_in == report.rows_loaded + report.rows_quarantined >= 0
    files = {row[0]: row[1:] for row in conn.execute(
        "select file_id, channel, path, status, rows_in, rows_loaded, rows_quarantined, reason, sha256 "
        "from ops.ingested_files")}
    assert sorted(files) == sorted(r.file_id for r in fresh)
    for report in fresh:
        assert files[report.file_id] == (report.channel, report.file, report.status, report.rows_in,
                                         report.rows_loaded, report.rows_quarantined, report.reason, report.sha256)
    for report in reports:
        if report.status == "duplicate":
            assert files[report.file_id][-1] == report.sha256
    counts = _counts(conn)
    for channel, table in RAW_TABLES.items():
        assert counts[table] == sum(r.rows_loaded for r in fresh if r.channel == channel), table
    whole = 0
    for report in fresh:
        table = RAW_TABLES[report.channel]
        assert conn.execute(f"select count(*) from {table} where file_id = %s",
                            (report.file_id,)).fetchone()[0] == report.rows_loaded
        rows = conn.execute("select row_number, reason from raw.quarantine where file_id = %s",
                            (report.file_id,)).fetchall()
        whole_file = report.status == "quarantined" and report.rows_in == 0
        assert len(rows) == report.rows_quarantined + whole_file, (report, rows)
        if whole_file:
            whole += 1
            assert [r for r in rows if r[0] is None and r[1].startswith("whole file quarantined")]
        if report.rows_loaded:  # stored verbatim: tabs, newlines, backslashes, \N and \. are text, not COPY syntax
            records = READERS[report.channel](contents[report.sha256], report.file).records
            expected = {(r.get("sheet"), r["row_number"]): tuple(r.get(c) for c in VERBATIM[report.channel])
                        for r in records}
            sheet = "sheet" if report.channel == "reception" else "null"
            stored = conn.execute(f"select {sheet}, row_number, {', '.join(VERBATIM[report.channel])} from {table} "
                                  "where file_id = %s", (report.file_id,)).fetchall()
            for row in stored:
                assert expected[(row[0], row[1])] == tuple(row[2:])
    assert counts["raw.quarantine"] == sum(r.rows_quarantined for r in fresh) + whole


@settings(FUZZ, max_examples=25)
@given(files=landing_files())
def test_hostile_landing_folder(fresh_warehouse, files):
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        conn.execute("truncate raw.quarantine, raw.hotline_work_orders, raw.miniprogram_tickets, "
                     "raw.reception_entries, ops.file_sightings, ops.ingested_files cascade")
    with tempfile.TemporaryDirectory(prefix="minqing_fuzz_") as tmp:
        landing = Path(tmp)
        _write_landing(landing, files)
        reports = ingest(landing, progress=False)  # never raises for what a file holds or is called
        assert len(reports) == len(files)
        for report in reports:
            event(f"file {report.status}" + (" with rows loaded" if report.rows_loaded else "")
                  + (" with rows quarantined" if report.rows_quarantined else ""))
        event(f"non-UTF-8 name: {any(n in name for _, name, _ in files for n in NON_UTF8_NAMES)}")
        with psycopg.connect(fresh_warehouse) as conn:
            check_warehouse(conn, {hashlib.sha256(c).hexdigest(): c for _, _, c in files}, reports)
            before = _counts(conn)
        again = ingest(landing, progress=False)
        assert [r.status for r in again] == ["duplicate"] * len(files)
        assert all((r.rows_in, r.rows_loaded, r.rows_quarantined) == (0, 0, 0) for r in again)
        with psycopg.connect(fresh_warehouse) as conn:
            after = _counts(conn)
        assert after == before  # nothing loaded twice, not even a sighting (same path, same content)


# --- regressions: what the fuzzing found, minimised ------------------------------------------------

HOTLINE_HEADER = ",".join(hotline.COLUMNS)
HOTLINE_ROW = "{id},12345,2026-07-15 08:03:11,张伟,13812345678,投诉,{content},丰台区,六里桥街道,望园社区,,,,,,,已派单,,," \
              "2026-07-15 09:00:00"
TICKET_LINE = '{"ticket_id": "MP1", "submitted_at": "2026-07-15T08:00:00+08:00", %s}'


@pytest.mark.parametrize("value", [1e15, 1e18, 10**30, 10**400, float("inf"), float("-inf"), float("nan")])
def test_regression_numbers_beyond_datetime_are_row_errors(value):
    """Epoch milliseconds past year 9999 raised ValueError / OverflowError / OSError out of the readers."""
    with pytest.raises(RowError):
        parse_datetime(value)
    line = json.dumps({"ticket_id": "MP1", "submitted_at": value}).encode()
    [rejected] = miniprogram.read(line + b"\n", "miniprogram/a.jsonl").rejected
    assert "submitted_at" in rejected.reason or "number" in rejected.reason
    if isinstance(value, int) and value < 1e300:  # a number in a workbook's 日期 cell
        book = openpyxl.Workbook()
        book.active.append(["日期", "反映问题"])
        book.active.append([value, "楼道堆物"])
        buffer = io.BytesIO()
        book.save(buffer)
        result = reception.read(buffer.getvalue(), NAMES["reception"])
        assert not result.records and len(result.rejected) == 1


@pytest.mark.parametrize("text", ["2026-07-15 08:03:11 +99:99", "2026-07-15 08:03 -24:00", "2026-07-15 08:03 UTC+99"])
def test_regression_an_offset_of_a_day_or_more_is_a_row_error(text):
    """dateutil returns such an offset; the range check's comparison then raised ValueError."""
    with pytest.raises(RowError, match="not a valid date"):
        parse_datetime(text)


def test_regression_a_long_text_is_not_handed_to_the_date_parser():
    """dateutil took ~10 s on a 300 000-character field in a time column (minutes at the 1 MB field limit)."""
    with pytest.raises(RowError, match="too long to be a date"):
        parse_datetime("楼" * 300_000)
    assert parse_datetime(" 2026-07-15T08:03:11.123456+08:00 ").year == 2026


def test_regression_integer_beyond_pythons_digit_limit_is_a_bad_line():
    """json.loads raises ValueError (not JSONDecodeError) for an integer of more than 4300 digits."""
    data = (TICKET_LINE % ('"x": ' + "9" * 5000)).encode() + b"\n"
    [rejected] = miniprogram.read(data, "miniprogram/a.jsonl").rejected
    assert "not valid JSON" in rejected.reason


def test_regression_lone_surrogate_openid_does_not_crash_the_hash():
    """A `\\ud800` escape in user.openid made the keyed hash raise UnicodeEncodeError."""
    data = (TICKET_LINE % '"user": {"openid": "\\ud800"}').encode() + b"\n"
    [record] = miniprogram.read(data, "miniprogram/a.jsonl").records
    assert record["user_key"] == privacy.keyed_hash("openid", "\ud800")


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "[Content_Types].xml",
                                    "xl/styles.xml", "docProps/core.xml"])
@pytest.mark.parametrize("how", ["garbage", "drop"])
def test_regression_corrupt_workbook_member_is_a_file_error(member, how):
    """openpyxl raised ParseError (garbage XML) or IndexError (no styles.xml) past the reader's except."""
    book = openpyxl.Workbook()
    book.active.append(["日期", "反映问题"])
    book.active.append([dt.datetime(2026, 7, 15), "楼道堆物"])  # a styled cell: styles.xml is needed
    buffer, out = io.BytesIO(), io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            if name != member:
                target.writestr(name, source.read(name))
            elif how == "garbage":
                target.writestr(name, b"<garbage")
    try:
        result = reception.read(out.getvalue(), NAMES["reception"])
    except FileError as exc:
        assert "not a readable .xlsx" in str(exc) or "no sheet" in str(exc)
    else:  # openpyxl does without some members (docProps/core.xml)
        check_result("reception", result)


def test_regression_blank_date_in_reception_is_a_rejection():
    """日期 of only spaces passed the emptiness check, parsed to None, and broke the NOT NULL at COPY."""
    text = "日期,反映问题\n \t,楼道堆物\n"
    result = reception.read(text.encode(), NAMES["reception_csv"])
    assert not result.records
    [rejected] = result.rejected
    assert "日期 is empty" in rejected.reason


LOADER_REGRESSIONS = {  # file: content, (status, rows loaded, rows quarantined)
    # NUL in the header, quoted by the FileError reason (a text column)
    b"hotline/nul_header.csv": (b"a\x00b,c\n1,2\n", ("quarantined", 0, 0)),
    # NUL in an unknown column's name, listed in ops.ingested_files.detail (jsonb)
    b"hotline/nul_column.csv": ((HOTLINE_HEADER + ",x\x00y\n" + HOTLINE_ROW.format(id="GD2026071500001", content="a")
                                 + ",\n").encode(), ("loaded", 1, 0)),
    # NUL in a rejected row's id (raw.quarantine.source_record_id)
    b"hotline/nul_id.csv": ((HOTLINE_HEADER + "\n" + HOTLINE_ROW.format(id="GD\x00", content="a") + "\n").encode(),
                            ("quarantined", 0, 1)),
    # NUL and a lone surrogate as the id of a rejected ticket
    b"miniprogram/ids.jsonl": (b'{"ticket_id": "\\u0000"}\n{"ticket_id": "\\ud800"}\n', ("quarantined", 0, 2)),
    # NaN / Infinity in the jsonb columns, and a lone surrogate in the openid
    b"miniprogram/constants.jsonl": ("\n".join([
        TICKET_LINE % '"images": [NaN]', TICKET_LINE % '"x": 1e400', TICKET_LINE % '"events": [{"at": Infinity}]',
        TICKET_LINE % '"user": {"openid": "\\ud800"}']).encode() + b"\n", ("quarantined", 0, 4)),
    # a file name that is not UTF-8 (GBK, as unzipped from an archive made on Chinese Windows)
    b"hotline/" + "接待_望园.csv".encode("gb18030"): ((HOTLINE_HEADER + "\n" + HOTLINE_ROW.format(
        id="GD2026071500002", content="'); drop table raw.quarantine; --\t\\N\\.") + "\n").encode(), ("loaded", 1, 0)),
    # a reception date of only spaces (NOT NULL entry_date at COPY)
    b"reception/blank_date_202607.csv": ("日期,反映问题\n ,楼道堆物\n2026-07-15,井盖缺失\n".encode(), ("loaded", 1, 1)),
}


@pytest.mark.parametrize("name", list(LOADER_REGRESSIONS), ids=["nul_in_header", "nul_in_column_name", "nul_in_id",
                                                               "bad_ticket_ids", "nan_infinity", "gbk_file_name",
                                                               "blank_date"])
def test_regression_loader_stores_what_postgresql_cannot(fresh_warehouse, tmp_path, name):
    """Each of these made `ingest` raise (and so stop the whole run) instead of accounting for the file."""
    content, expected = LOADER_REGRESSIONS[name]
    _write_landing(tmp_path, [(name.split(b"/")[0].decode(), name.split(b"/", 1)[1], content)])
    [report] = ingest(tmp_path, progress=False)
    assert (report.status, report.rows_loaded, report.rows_quarantined) == expected
    with psycopg.connect(fresh_warehouse) as conn:
        check_warehouse(conn, {report.sha256: content}, [report])
        if name == b"hotline/nul_header.csv":
            assert "a\ufffdb" in report.reason
        if name == b"hotline/nul_column.csv":
            [detail] = conn.execute("select detail from ops.ingested_files").fetchone()
            assert detail["extra_columns"] == ["x\ufffdy"]
        if report.rows_loaded and name.startswith(b"hotline/\xbd"):
            assert report.file == "hotline/接待_望园.csv"
            assert conn.execute("select content from raw.hotline_work_orders").fetchone()[0] == \
                "'); drop table raw.quarantine; --\t\\N\\."
