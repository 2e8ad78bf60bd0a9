"""What every reader returns, and the parsing shared by the three channels."""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from dateutil import parser as date_parser

from minqing import config
from minqing.config import BEIJING


class RowError(ValueError):
    """A record that cannot be placed; the message is the reason a person reads in the quarantine."""


class FileError(ValueError):
    """A file that cannot be read at all; it is quarantined whole with this message."""


@dataclass
class Rejected:
    row_number: int | None
    raw_content: str
    reason: str
    sheet: str | None = None
    source_record_id: str | None = None


@dataclass
class ReadResult:
    """What a reader makes of one file. Every record is in exactly one of `records` and `rejected`."""

    records: list[dict] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    detail: dict = field(default_factory=dict)

    @property
    def rows_in(self) -> int:
        return len(self.records) + len(self.rejected)


# --- reading a file in chunks ----------------------------------------------------------------------

@dataclass
class Layout:
    """What a reader learns from the top of a file before its records: where the records start
    (`body_start`, a byte offset, and `first_line`, the line number there), how the rest may be cut
    into chunks that each parse on their own (`split`: `csv` at record boundaries, `lines` at line
    ends, `whole`: not at all), and what its parser needs from the top (`state`: the header, the
    encoding). `empty_reason`: why the file counts as empty when it turns out to hold no record."""

    detail: dict
    split: str  # csv | lines | whole
    body_start: int = 0
    first_line: int = 1
    state: dict = field(default_factory=dict)
    empty_reason: str | None = None


@dataclass
class CutShort(Rejected):
    """A rejected entry that ends the file's reading: the rows after it cannot be told apart
    (a broken CSV record), so the reader accounts for all of them in this one entry. Whoever reads
    the file in chunks appends the text of the chunks after this one to `raw_content`."""


HEAD_BYTES = 4 << 20  # what a reader sees of a file to decide its encoding and read its header


def read_whole(layout_of, parse, data: bytes, name: str) -> ReadResult:
    """A file read in one piece by a reader's `layout_of(head, name, size)` and `parse(body,
    first_line, layout, last)`: what the loader does chunk by chunk, for a file in memory."""
    layout = layout_of(data[:HEAD_BYTES], name, len(data))
    result = ReadResult(detail=layout.detail)
    for item in parse(data[layout.body_start:], layout.first_line, layout, True):
        if isinstance(item, Rejected):
            result.rejected.append(item)
        else:
            result.records.append(item)
    if not result.rows_in and layout.empty_reason:
        raise FileError(layout.empty_reason)
    return result


def line_count(data: bytes) -> int:
    """Lines as a text reader with universal newlines counts them (`\\r\\n`, `\\r` and `\\n` each end
    one): what `csv.reader.line_num` counts. The three are ASCII and never inside a UTF-8 or
    GB18030 character."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


_LINE_END = re.compile(rb"\r\n|\r|\n")


def offset_after_lines(data: bytes, lines: int) -> int:
    """The byte offset just after the first `lines` lines of `data` (counted as `line_count` does)."""
    seen, offset = 0, 0
    for _, match in zip(range(lines), _LINE_END.finditer(data)):
        seen, offset = seen + 1, match.end()
    return offset if seen == lines else len(data)  # the last line ends with the data


# --- text ----------------------------------------------------------------------------------------

UTF8, GB18030 = "utf-8", "gb18030"


class EncodingTrouble(FileError):
    """A text file whose bytes are in no encoding its channel may send (or in two at once)."""


def _plausible_chinese(text: str) -> float:
    """Share of the Han characters of `text` that are among the 3,755 most common (GB2312 level 1).

    Chinese prose scores near 1. UTF-8 bytes decoded as GB18030 (mojibake such as `妤奸亾鐏潖`)
    score near 0: UTF-8 lead bytes E4–E9 fall on GB2312's level 2 or outside it. Text without Han
    characters scores 0.
    """
    han = common = 0
    for char in text:
        if "\u4e00" <= char <= "\u9fff":
            han += 1
            try:
                code = char.encode("gb2312")
            except UnicodeEncodeError:
                continue
            common += 0xB0 <= code[0] <= 0xD7
    return common / han if han else 0.0


def decode(data: bytes, encodings: tuple[str, ...] = (UTF8, GB18030)) -> tuple[str, str]:
    """Decode a text export in one of the encodings its channel may send; (text, encoding).

    - Valid UTF-8 (with or without BOM) is UTF-8.
    - Bytes that are not valid UTF-8 are GB18030 when the channel allows it and the text reads as
      Chinese in GB18030 better than in UTF-8; otherwise they are UTF-8 with some broken bytes
      (a cut-off tail, a damaged line): those become U+FFFD, so that the reader quarantines just the
      rows that hold them and keeps the rest.
    - A UTF-8 byte-order mark followed by GB18030 text is refused: the export mixed two encodings.
    """
    bom = data.startswith(b"\xef\xbb\xbf")
    body = data[3:] if bom else data
    try:
        return body.decode(UTF8), "utf-8-sig" if bom else UTF8
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    as_utf8 = body.decode(UTF8, errors="replace")
    if GB18030 in encodings:
        as_gb = body.decode(GB18030, errors="replace")
        # the reading that looks more like Chinese wins; on a tie (no common characters either way), fewer broken bytes
        if ((_plausible_chinese(as_gb), -as_gb.count("\ufffd"))
                > (_plausible_chinese(as_utf8), -as_utf8.count("\ufffd"))):
            if bom:
                raise EncodingTrouble(
                    "the file starts with a UTF-8 byte-order mark, but the text after it is GB18030 (GBK): "
                    "the export mixed two encodings; export it again as UTF-8 (or as GB18030 without the mark)")
            return as_gb, GB18030
    if not _plausible_chinese(as_utf8) and as_utf8.count("\ufffd") * 2 > len(as_utf8):
        allowed = " or ".join(e.upper() for e in encodings)
        raise EncodingTrouble(f"the file is not text in {allowed}: byte {first_bad} and most others are not valid "
                              f"{allowed}; check that the right file was delivered")
    return as_utf8, "utf-8-sig" if bom else UTF8


_BRACKETED = re.compile(r"^(?P<name>.+?)\s*[(\[【](?P<qualifier>[^()\[\]【】]*)[)\]】]$")


def header_name(cell: str, known) -> str:
    """A header cell as the channel's contract names it.

    NFKC first (full-width letters, digits and brackets become plain), spaces dropped, then a known
    name followed by a bracketed qualifier (`联系电话（手机）`, `诉求内容[全文]`) is that known name.
    Anything else is returned normalised, for the reader to keep as an extra column.
    """
    name = re.sub(r"\s+", "", unicodedata.normalize("NFKC", cell or "")).lstrip("\ufeff")
    if name not in known and (match := _BRACKETED.match(name)) and match.group("name") in known:
        return match.group("name")
    return name


def clean(value) -> str | None:
    """Strip a cell; empty becomes None."""
    if type(value) is str:  # a CSV cell, the usual case: no conversion
        return value.strip() or None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- dates ---------------------------------------------------------------------------------------

_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
MAX_DATE_TEXT = 100  # characters; the longest form the contract lists has about 35
_ISO_FAST = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([+-]\d{2}:?\d{2}|Z)?$")
_CJK_DATE = re.compile(
    r"^(?:(?P<y>\d{4})\s*年\s*)?(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?\s*"
    r"(?:(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})\s*(?:[:：分]\s*(?P<S>\d{1,2})\s*秒?)?)?$"
)
_PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_NUMERIC = re.compile(r"^\d+(\.\d+)?$")
_DOTTED_OR_SLASHED = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})(.*)$")


@lru_cache(maxsize=1)
def _bounds() -> tuple[dt.datetime, int, float, float]:
    rules = config.settings()["ingestion"]
    earliest = dt.datetime.fromisoformat(rules["earliest_valid_date"]).replace(tzinfo=BEIJING)
    return earliest, rules["max_future_days"], rules["excel_serial_min"], rules["excel_serial_max"]


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=BEIJING) if value.tzinfo is None else value


_latest: tuple[float, dt.datetime] = (0.0, dt.datetime.min.replace(tzinfo=BEIJING))


def _latest_valid() -> dt.datetime:
    """Now plus the allowed days, taken from the clock at most once a minute (a reader checks
    hundreds of thousands of times a file)."""
    global _latest
    checked, latest = _latest
    if time.monotonic() - checked > 60:
        latest = dt.datetime.now(BEIJING) + dt.timedelta(days=_bounds()[1])
        _latest = (time.monotonic(), latest)
    return latest


def _check_range(value: dt.datetime, raw) -> dt.datetime:
    earliest = _bounds()[0]
    latest = _latest_valid()
    if not earliest <= value <= latest:
        raise RowError(f"date {raw!r} lies outside {earliest:%Y-%m-%d} .. {latest:%Y-%m-%d}")
    return value


def from_excel_serial(serial: float) -> dt.datetime:
    _, _, low, high = _bounds()
    if not low <= serial <= high:
        raise RowError(f"number {serial!r} is not a plausible Excel date serial ({low}..{high})")
    return (_EXCEL_EPOCH + dt.timedelta(days=serial)).replace(microsecond=0, tzinfo=BEIJING)


def from_epoch_millis(millis: float) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(millis / 1000, tz=dt.timezone.utc).astimezone(BEIJING)
    except (ValueError, OverflowError, OSError):  # beyond year 1..9999 or the platform's time_t
        raise RowError(f"number {millis!r} is not a plausible time in epoch milliseconds") from None


def parse_datetime(value, *, default_year: int | None = None, field_name: str = "date") -> dt.datetime | None:
    """Parse any time form the contract lists into an aware datetime (Beijing time when no offset).

    Accepts datetime/date objects (Excel cells), Excel serial numbers, epoch milliseconds,
    ISO 8601 with or without offset, `2026/7/15 8:03`, `2026.7.15`, `2026年7月15日 08:03`, and
    `7月15日` when `default_year` is known. Empty gives None; anything else raises RowError.
    """
    if value is None:
        return None
    if type(value) is str and len(value) == 19 and _PLAIN_ISO.match(value):
        # the exports' own form, `2026-07-15 08:03:12`, nearly every value: straight to the C parser
        try:
            parsed = dt.datetime.fromisoformat(value).replace(tzinfo=BEIJING)
        except ValueError as exc:
            raise RowError(f"{field_name} {value!r} is not a valid date ({exc})") from None
        return _check_range(parsed, value)
    if isinstance(value, dt.datetime):
        return _check_range(_aware(value), value)
    if isinstance(value, dt.date):
        return _check_range(dt.datetime(value.year, value.month, value.day, tzinfo=BEIJING), value)
    if isinstance(value, bool):
        raise RowError(f"{field_name} {value!r} is not a date")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            raise RowError(f"{field_name} is a number too large to be a date") from None
        return _check_range(_from_number(number), value)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_DATE_TEXT:  # the date parser takes seconds on a long text; no date is this long
        raise RowError(f"{field_name} is {len(text)} characters long, too long to be a date")
    try:
        if _NUMERIC.match(text):
            parsed = _from_number(float(text))
        elif _ISO_FAST.match(text):
            parsed = _aware(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        elif match := _CJK_DATE.match(text):
            year = match.group("y") or default_year
            if year is None:
                raise RowError(f"{field_name} {text!r} has no year and none is known from the title or file name")
            parsed = dt.datetime(
                int(year), int(match.group("m")), int(match.group("d")),
                int(match.group("H") or 0), int(match.group("M") or 0), int(match.group("S") or 0),
                tzinfo=BEIJING,
            )
        elif match := _DOTTED_OR_SLASHED.match(text):
            head = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            rest = match.group(4).strip()
            clock = date_parser.parse(rest).time() if rest else dt.time()
            parsed = dt.datetime.combine(head, clock, tzinfo=BEIJING)
        else:
            parsed = _aware(date_parser.parse(text))
        parsed.utcoffset()  # dateutil accepts `+99:99`; datetime refuses the offset only when it is used
    except RowError:
        raise
    except (ValueError, OverflowError, date_parser.ParserError) as exc:
        raise RowError(f"{field_name} {text!r} is not a valid date ({exc})") from None
    return _check_range(parsed, value)


def _from_number(number: float) -> dt.datetime:
    """Excel serial (days since 1899-12-30) or epoch milliseconds, told apart by magnitude."""
    if number > 1e11:
        return from_epoch_millis(number)
    return from_excel_serial(number)


def parse_date(value, *, default_year: int | None = None, field_name: str = "date") -> dt.date | None:
    parsed = parse_datetime(value, default_year=default_year, field_name=field_name)
    return parsed.astimezone(BEIJING).date() if parsed else None
