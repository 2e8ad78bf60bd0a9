"""The expectations, as data: one suite per channel on the raw tables, and the value sets they use.

The id patterns and value sets are the channels' contracts' (`ingestion/contracts/`, after
`shared/contracts/sources.md`); here are the rules built from them and the sentence a person reads
in `raw.quarantine` when a row breaks a rule. Nothing in this module imports Great Expectations; `quality.context` turns a `Rule` into a
GX expectation.

Reasons are templates: `{column}` (or `{column!r}`, quoted) takes the failing row's value of that
column as Great Expectations reported it (the checked columns only, never personal data); braces
around anything that is not a name, such as the `{13}` of a pattern, stay as they are.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingestion.contracts import CONTRACTS, Contract
from minqing import config
from minqing.config import BEIJING

# --- the channels' contracts: id patterns and value sets (ingestion/contracts/) ------------------

HOTLINE_C, MINIPROGRAM_C, RECEPTION_C = (CONTRACTS[c] for c in ("hotline", "miniprogram", "reception"))

# Suite parameters, resolved at run time by `suite_parameters()`.
EARLIEST = {"$PARAMETER": "earliest_valid_date"}
LATEST = {"$PARAMETER": "latest_valid_date"}


LISTED_AT_MOST = 8  # values a reason lists (a district's street spellings run to hundreds)


def _listed(values: Sequence[str]) -> str:
    if len(values) <= LISTED_AT_MOST:
        return " / ".join(values)
    return " / ".join(values[:LISTED_AT_MOST]) + f" … ({len(values)} values)"


@dataclass(frozen=True)
class Rule:
    """One expectation: its GX type (snake case), its arguments, and the reason a failing row gets."""

    type: str
    kwargs: dict
    reason: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        if "column" in self.kwargs:
            return (self.kwargs["column"],)
        if "column_A" in self.kwargs:
            return (self.kwargs["column_A"], self.kwargs["column_B"])
        return tuple(self.kwargs.get("column_list", ()))

    @property
    def check_name(self) -> str:
        """`expectation_type(column, …)`: the name stored in raw.quarantine.check_name."""
        return check_name(self.type, self.columns)


def check_name(expectation_type: str, columns: tuple[str, ...] | list[str]) -> str:
    return f"{expectation_type}({', '.join(columns)})" if columns else expectation_type


@dataclass(frozen=True)
class ChannelSuite:
    """A channel's contract (its raw table, how its rows are keyed) and the rules its loaded rows must keep,
    built when they are used (`build`): a value set read from the reference folder (所属街道's spellings) is
    the folder's in force then."""

    contract: Contract
    build: Callable[[], tuple[Rule, ...]]

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.build()

    @property
    def channel(self) -> str:
        return self.contract.channel

    @property
    def suite_name(self) -> str:
        return f"{self.channel}_raw"

    @property
    def table(self) -> str:  # schema-qualified
        return self.contract.table

    @property
    def key_columns(self) -> tuple[str, ...]:  # the table's primary key: how a failing row is found again
        return self.contract.key_columns

    @property
    def record_id_column(self) -> str:  # the source's own id, copied to raw.quarantine.source_record_id
        return self.contract.record_id


def _not_null(column: str, label: str, consequence: str) -> Rule:
    return Rule("expect_column_values_to_not_be_null", {"column": column},
                f"{label} is empty: {consequence}")


def _in_set(contract: Contract, column: str, label: str, advice: str) -> Rule:
    values = contract.vocabularies[column]
    return Rule("expect_column_values_to_be_in_set", {"column": column, "value_set": list(values)},
                f"{label} {{{column}!r}} is not one of {_listed(values)}; {advice}")


def _matches(column: str, pattern: str, label: str, advice: str) -> Rule:
    return Rule("expect_column_values_to_match_regex", {"column": column, "regex": pattern},
                f"{label} {{{column}!r}} does not have the form {pattern}; {advice}")


def _not_before(later: str, earlier: str, label_later: str, label_earlier: str, advice: str) -> Rule:
    return Rule(
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": later, "column_B": earlier, "or_equal": True, "ignore_row_if": "either_value_is_missing"},
        f"{label_later} {{{later}}} lies before {label_earlier} {{{earlier}}}; {advice}",
    )


_FIX_AT_SOURCE = "correct the record in the source system and deliver the file again"
_EXTEND = "if the source has really added this value, add it to the channel's contract (ingestion/contracts/)"

HOTLINE = ChannelSuite(
    HOTLINE_C,
    lambda: (
        _not_null("work_order_id", "工单编号 (work_order_id)", "the work order cannot be placed without its id"),
        _matches("work_order_id", HOTLINE_C.id_pattern, "工单编号 (work_order_id)",
                 "12345 ids are GD + 13 digits and 400-line ids 400-YYYYMMDD-NNNN; " + _FIX_AT_SOURCE),
        _in_set(HOTLINE_C, "intake_line", "来源 (intake_line)", _FIX_AT_SOURCE),
        _in_set(HOTLINE_C, "status", "办理状态 (status)", f"{_FIX_AT_SOURCE}, or {_EXTEND}"),
        _in_set(HOTLINE_C, "resolved", "是否解决 (resolved)",
                f"only 是, 否 or empty are meaningful for the resolution rate; {_FIX_AT_SOURCE}"),
        _in_set(HOTLINE_C, "satisfaction", "满意度 (satisfaction)",
                f"the satisfaction rate cannot score this answer; {_FIX_AT_SOURCE}, or {_EXTEND}"),
        _in_set(HOTLINE_C, "demand_type", "诉求类型 (demand_type)", f"{_FIX_AT_SOURCE}, or {_EXTEND}"),
        _in_set(HOTLINE_C, "street", "所属街道 (street)",
                "a work order of a street this warehouse does not serve; if it does serve that street, add it to "
                "streets.csv of the reference folder and its spellings to street_aliases.csv (README: Streets)"),
        _not_before("updated_at", "received_at", "更新时间 (updated_at)", "来电时间 (received_at)",
                    "a version cannot be written before the call came in; check both times in the export"),
        _not_before("closed_at", "received_at", "办结时间 (closed_at)", "来电时间 (received_at)",
                    "an order cannot close before it was received; check both times in the export"),
    ),
)

MINIPROGRAM = ChannelSuite(
    MINIPROGRAM_C,
    lambda: (
        _not_null("ticket_id", "ticket_id", "the ticket cannot be placed without its id"),
        _matches("ticket_id", MINIPROGRAM_C.id_pattern, "ticket_id",
                 "a platform id is 2-64 letters, digits, '_', '.', ':' or '-'; ask the platform team"),
        _not_null("ticket_type", "type (ticket_type)",
                  "without it the ticket cannot be told apart from bills and renovation applications"),
        _in_set(MINIPROGRAM_C, "ticket_type", "type (ticket_type)",
                f"unknown types cannot be counted as complaints or as other business; {_EXTEND}"),
        _in_set(MINIPROGRAM_C, "status", "status", f"ask the platform team what it means; {_EXTEND}"),
        _not_before("updated_at", "submitted_at", "updated_at", "submitted_at",
                    "a ticket cannot change before it was submitted; check the platform's clocks"),
    ),
)

RECEPTION = ChannelSuite(
    RECEPTION_C,
    lambda: (
        _not_null("entry_id", "entry_id", "ingestion did not give the entry its id"),
        _matches("entry_id", RECEPTION_C.id_pattern, "entry_id", "ingestion/reception.py makes these ids; report a bug"),
        _not_null("method", "方式 (method)",
                  "fill in 接待日, 敲门 or 巡查 in the workbook so that the entry can be counted, and deliver it again"),
        _not_null("issue_text", "反映问题 (issue_text)", "an entry without the issue it records cannot be used"),
        Rule("expect_column_values_to_be_between",
             {"column": "entry_date", "min_value": EARLIEST, "max_value": LATEST},
             "日期 (entry_date) {entry_date} is not a plausible date for a log entry; "
             "check the 日期 cell and the year in the title row or the file name"),
    ),
)

CHANNEL_SUITES: dict[str, ChannelSuite] = {s.channel: s for s in (HOTLINE, MINIPROGRAM, RECEPTION)}


def suite_parameters(now: dt.datetime | None = None) -> dict[str, str]:
    """Values of the suites' `$PARAMETER`s: the same window of plausible dates ingestion uses."""
    rules = config.settings()["ingestion"]
    now = now or dt.datetime.now(BEIJING)
    latest = now.astimezone(BEIJING).date() + dt.timedelta(days=rules["max_future_days"])
    return {"earliest_valid_date": str(rules["earliest_valid_date"]), "latest_valid_date": latest.isoformat()}


def max_failing_share() -> float:
    """The share of a batch's rows that may fail before the channel fails as a whole (settings.yml)."""
    value = float((config.settings().get("quality") or {}).get("max_failing_share", 0.5))
    if not 0 <= value <= 1:
        raise ValueError(f"quality.max_failing_share in settings.yml must lie between 0 and 1, not {value}")
    return value


def pass_first_above_rows() -> int:
    """Batches of this many rows or more are checked for a pass before their failing rows are listed
    (settings.yml `quality.pass_first_above_rows`; quality.channels._run)."""
    value = int(config.settings()["quality"]["pass_first_above_rows"])
    if value < 0:
        raise ValueError(f"quality.pass_first_above_rows in settings.yml must be 0 or more, not {value}")
    return value


PLACEHOLDER = re.compile(r"{([A-Za-z_]\w*)(![rsa])?}")


def format_reason(template: str, values: dict) -> str:
    """Fill a reason template with a row's values; a value that is missing shows as '?'."""

    def fill(match: re.Match) -> str:
        name, conversion = match.group(1), match.group(2)
        if name not in values:
            return "?"
        value = values[name]
        if value is None:
            return "empty"
        return repr(value) if conversion == "!r" else str(value)

    return PLACEHOLDER.sub(fill, template)
