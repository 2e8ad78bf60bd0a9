"""Synthetic landing folder for 六里桥街道: the three source channels, with all their mess.

`generate(out, days, seed=7, per_day=40, start=date(2026, 7, 1))` writes

    out/hotline/12345_YYYYMMDD.csv, out/hotline/400_YYYYMMDD.csv   daily work-order exports
    out/miniprogram/tickets_YYYYMMDD.jsonl                          daily API pulls
    out/reception/reception_<社区>_YYYYMM.xlsx (a few .csv)          monthly hand-kept logs
    out/.generate_manifest.json                                     what was written, and what a reader owes
    out/.generate_problems.csv                                      which records report the same problem

in the shapes of the source contract (`contracts/sources.md`), and returns the manifest.

How the data comes about:

1. A calendar sets each day's volume (weekday rhythm, rain spells, the first days of the heating
   season) and category mix (flood season 1 June – 15 September with its peak 20 July – 10 August,
   heating season 15 November – 15 March with cold waves). Rain comes in spells, one after another
   in the peak ("七下八上"), now and then before it; roof leaks and standing water rise over the days
   of a spell, most of all in the older estates, on top of the usual demands: in a summer month the
   issue forecast sees the surge it exists for.
2. Residents of the 13 communities raise demands; a pool with stable phone numbers holds a few
   frequent callers, some demands repeat an earlier one of the same resident or report the same
   building or place again, telling the same fact in words of their own (another opener, detail,
   request; a patrol's note rather than speech). Each demand goes to one channel: 12345, the 400 line, the
   mini-program or a reception day / door-knocking round / patrol. A few new issues are made
   near-misses of a recent one: the same building and category but another problem, or the same
   problem in the same words at another building.
3. Every work order and ticket gets its whole lifecycle of status events; a day's export holds
   the orders and tickets that changed that day, in their state at the end of it.
4. The writers render every record with the contract's quirks at fixed rates, add a known number
   of bad records, re-deliver a few files byte for byte and deliver some late.

Deterministic: the same arguments give the same bytes. All randomness comes from generators
seeded with the seed and a component name; no clock is read (xlsx timestamps are fixed, file
modification times are set to the simulated delivery time, `landing_time`: a daily file covering
day D lands on D+1 at 05:00-05:45, a monthly workbook on the 2nd or 3rd of the next month at 17:00,
re-deliveries a bit after their original).

The manifest (also returned) has, per file, `channel`, `records` (records the file holds; blank
and 合计 rows are not records, a cut-off last line is one), `bad` (records a reader must
quarantine), `duplicate_of` (the original of a byte-identical re-delivery, else null) and some
description (`covers`, `delivered_at`, `late`, `format`); then `totals`, `distinct` counts of work
orders, tickets, reception entries and resident demands over the loadable records, and the
ground-truth `categories` and `daily` counts of those resident demands. The truth file
(`problems_csv`) lists those resident demands one a row with the problem (issue) each reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import random
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font

from ingestion.contracts import CHANNELS
from ingestion.contracts.hotline import CONTRACT as HOTLINE_CONTRACT
from ingestion.contracts.reception import CONTRACT as RECEPTION_CONTRACT
from minqing.config import BEIJING, settings
from minqing.devtools.generate_texts import (
    BILL_ITEMS, CATEGORIES, CATEGORY_CODES, DECORATION_ITEMS, DEPTHS, DURATIONS, EMOTIONS, FOLLOW_UPS, GIVEN_CHARS,
    HONORIFICS, LINE_400_PREFIXES, LONG_STORY, METHOD_WORDS, MP_DEPARTMENTS, MP_RATING_COMMENTS, MP_SUFFIXES,
    NEIGHBOR_REPORTS, NICKNAMES, OPENERS, OPERATOR_PREFIXES, OPERATOR_SUFFIXES, PLACES_ESTATE, PLACES_VILLAGE,
    PRIOR_ATTEMPTS, QUOTED_REMARKS, RECEPTION_HANDLING_OPEN, RECEPTION_PREFIXES, RECEPTION_REMARKS, ROOM_PARTS,
    SURNAMES, VILLAGE_LANES,
)

MANIFEST_NAME = ".generate_manifest.json"
PROBLEMS_NAME = ".generate_problems.csv"  # the ground truth: which records report the same problem
STREET = "六里桥街道"
DISTRICT = "丰台区"
LINE_12345, LINE_400, MINIPROGRAM, RECEPTION = "12345", "400", "miniprogram", "reception"

HOTLINE_COLUMNS = list(HOTLINE_CONTRACT.header)  # the 12345 export's order: the contract's
# The property company's system exports the same columns in its own order: these first, 所属街道 last.
_400_FIRST = ("工单编号", "来电时间", "来源", "办理状态", "所属社区", "诉求地址")
HOTLINE_400_COLUMNS = [*_400_FIRST, *(c for c in HOTLINE_COLUMNS if c not in _400_FIRST and c != "所属街道"), "所属街道"]
HOTLINE_TIME_COLUMNS = tuple(c for c in HOTLINE_COLUMNS if c in HOTLINE_CONTRACT.time_sources)
HOTLINE_EXTRA_COLUMNS = ["紧急程度", "区县", "是否重复件", "回访记录", "工单类型"]
RECEPTION_HEADER = list(RECEPTION_CONTRACT.header)
IMPOSSIBLE_DAYS = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31))

# Rates of the quirks (per file, per row or per record, as named).
RATES = {
    "hotline_encoding": {"utf-8": 0.5, "utf-8-sig": 0.25, "gb18030": 0.25},      # per 12345 file
    "hotline_encoding_400": {"utf-8": 0.2, "utf-8-sig": 0.4, "gb18030": 0.4},    # per 400 file
    "hotline_date_style": {"iso": 0.55, "slash": 0.2, "chinese": 0.1, "excel": 0.15},  # per file
    "hotline_second_received_style": 0.1,   # per file: 来电时间 in another style than the other time columns
    "hotline_shuffled_columns": 0.25,       # per file
    "hotline_extra_column": 0.15,           # per file
    "hotline_missing_id": 0.06,             # per file: one extra row without 工单编号
    "hotline_impossible_date": 0.04,        # per file: one extra row with 来电时间 like 2026-02-30
    "hotline_category_empty": 0.45,         # per order: 问题分类 empty
    "hotline_category_other": 0.08,         # per order: 问题分类 of another category
    "community": {"full": 0.58, "short": 0.12, "street": 0.08, "district": 0.04, "empty": 0.18},  # per order
    "name": {"full": 0.55, "honorific": 0.2, "empty": 0.12, "anonymous": 0.13},                  # per order
    "phone": {"plain": 0.58, "spaced": 0.1, "plus86": 0.1, "masked": 0.2, "empty": 0.02},        # per order, mobile
    "content_ascii_commas": 0.15, "content_quotes": 0.06, "content_line_break": 0.08, "content_long": 0.015,
    "mp_time": {"iso": 0.72, "epoch_ms": 0.22, "utc": 0.06},  # per line
    "mp_missing": {"location": 0.06, "images": 0.1, "user": 0.03, "events": 0.03, "rating": 0.08},  # per ticket
    "mp_null": {"location": 0.06, "images": 0.1, "user": 0.04, "events": 0.03},                      # per ticket
    "mp_one_off_field": 0.015,              # per line: an unknown field
    "mp_not_json": 0.06,                    # per file: one line that is not JSON
    "mp_cut_last_line": 0.05,               # per file: the pull broke off
    "mp_non_demand_share": 0.25,            # of the feed: bill_payment and decoration_application
    "reception_csv": 0.08,                  # per workbook
    "reception_two_sheets": 0.25, "reception_empty_sheet": 0.1, "reception_title": 0.85,
    "reception_total_row": 0.7, "reception_spacer_row": 0.05, "reception_merge_dates": 0.55,
    "reception_bad_row": 0.15,              # per workbook: one row with no 反映问题
    "reception_date_style": {"excel": 0.5, "month_day": 0.2, "dotted": 0.15, "dashed": 0.15},  # per workbook
    "reception_other_date_style": 0.15,     # per row
    "redelivery": 0.04,                     # per file: a byte-identical copy under another name
    "late": 0.03,                           # per daily file: delivered 2-5 days late
    # per new issue: made a near-miss of a recent issue of the community (NEAR_MISS_DAYS), another
    # problem that looks like it: the same building and category but another kind of problem ...
    "near_miss_same_building": 0.04,
    # ... or the same kind of problem (the same text templates) at another building
    "near_miss_same_text": 0.04,
}
NEAR_MISS_DAYS = 10  # a near-miss follows an issue opened at most this many days before


# --- communities -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Community:
    name: str
    short: str | None          # 望园 for 望园社区; None where the short form is ambiguous (六里桥村)
    kind: str                  # old | managed | military | railway | village
    weight: float              # relative volume of demands
    buildings: int
    top_floor: int
    project_code: str | None   # the property platform's project, where the platform runs
    property_unit: str | None  # handles 400-line orders
    reception_weekday: int     # weekday of the 民意接待日 (0 = Monday)
    street: str = STREET       # the street it belongs to (another street's: minqing/devtools/district.py)
    service: float = 1.0       # how much likelier than usual its 12345 orders are resolved (a street's profile)

    @property
    def is_village(self) -> bool:
        return self.kind == "village"

    @property
    def committee(self) -> str:
        return f"{self.name}{'委会' if self.is_village else '居委会'}"


COMMUNITIES = (
    Community("望园社区", "望园", "old", 1.6, 18, 6, "WY-01", "望园社区准物业服务站", 2),
    Community("金二社区", "金二", "old", 1.4, 14, 6, "JE-01", "金二社区准物业服务站", 1),
    Community("丰台路口社区", "丰台路口", "old", 1.4, 12, 6, "FTLK-01", "丰台路口社区准物业服务站", 3),
    Community("莲怡园社区", "莲怡园", "old", 1.5, 20, 6, "LYY-01", "莲怡园物业管理站", 2),
    Community("保利益丰社区", "保利益丰", "managed", 1.0, 16, 18, "PLYF-01", "益丰物业服务中心", 4),
    Community("西局玉园社区", "西局玉园", "managed", 1.0, 22, 18, "XJYY-01", "玉园物业服务中心", 1),
    Community("八一厂社区", "八一厂", "military", 1.0, 15, 6, "BYC-01", "八一厂物业管理处", 3),
    Community("六南社区", "六南", "military", 1.1, 12, 6, "LN-01", "六里桥物业管理站", 2),
    Community("六北社区", "六北", "military", 1.0, 12, 6, "LB-01", "六里桥物业管理站", 4),
    Community("京铁家园社区", "京铁家园", "railway", 0.9, 10, 16, "JTJY-01", "京铁物业服务中心", 1),
    Community("六里桥村", None, "village", 0.7, 6, 6, None, None, 0),
    Community("小井村", "小井", "village", 0.6, 5, 6, None, None, 3),
    Community("靛厂村", "靛厂", "village", 0.6, 5, 6, None, None, 2),
)



@dataclass(frozen=True)
class Street:
    """A street the generator writes the complaints of: its communities, and the subfolder of each channel's
    folder its files land in ('' for the street of a single-street landing: hotline/, not hotline/<folder>/)."""

    street_id: str
    name: str
    communities: tuple[Community, ...]
    folder: str = ""
    id_block: int = 0  # its ids are drawn from their own block (12345 and 400 order numbers, ticket numbers)

    @property
    def short(self) -> str:
        """六里桥 for 六里桥街道: how its exports also spell it."""
        return self.name.removesuffix("街道")


LIULIQIAO = Street("liuliqiao", STREET, COMMUNITIES)

CHANNEL_MIX = {
    "old": {LINE_12345: 0.68, LINE_400: 0.03, MINIPROGRAM: 0.02, RECEPTION: 0.27},
    "managed": {LINE_12345: 0.27, LINE_400: 0.13, MINIPROGRAM: 0.45, RECEPTION: 0.15},
    "military": {LINE_12345: 0.55, LINE_400: 0.10, MINIPROGRAM: 0.05, RECEPTION: 0.30},
    "railway": {LINE_12345: 0.55, LINE_400: 0.12, MINIPROGRAM: 0.08, RECEPTION: 0.25},
    "village": {LINE_12345: 0.70, LINE_400: 0.0, MINIPROGRAM: 0.0, RECEPTION: 0.30},
}
BASE_CATEGORY_WEIGHTS = {
    "housing_leak": 6, "drainage": 6, "waterlogging": 0, "road_facilities": 6, "heating": 0, "utilities": 7,
    "property_service": 15, "sanitation": 11, "noise": 9, "neighbor_dispute": 6, "elderly_care": 4,
    "parking_traffic": 9, "livelihood": 4, "safety_hazard": 6, "other": 5,
}
KIND_CATEGORY_FACTORS = {
    "old": {"housing_leak": 1.8, "drainage": 1.6, "property_service": 1.3, "elderly_care": 1.5, "safety_hazard": 1.3,
            "waterlogging": 1.3, "heating": 1.3, "parking_traffic": 0.8},
    "managed": {"parking_traffic": 1.5, "noise": 1.3, "property_service": 1.2, "housing_leak": 0.6, "drainage": 0.7,
                "waterlogging": 0.7, "elderly_care": 0.7},
    "military": {"neighbor_dispute": 1.5, "elderly_care": 1.8, "housing_leak": 1.2},
    "railway": {},
    "village": {"sanitation": 1.8, "road_facilities": 1.6, "safety_hazard": 1.5, "waterlogging": 1.5, "drainage": 1.3,
                "heating": 0.6, "property_service": 0.4, "livelihood": 1.5, "parking_traffic": 0.7},
}
HANDLING_UNITS = {
    "housing_leak": ["{property}", "六里桥街道城市建设办公室", "{committee}"],
    "drainage": ["北京城市排水集团", "六里桥街道城市管理办公室", "{property}"],
    "waterlogging": ["六里桥街道城市管理办公室", "丰台区水务局", "北京城市排水集团"],
    "road_facilities": ["丰台区城市管理委员会", "六里桥街道城市管理办公室"],
    "heating": ["北京市热力集团丰台分公司", "{property}"],
    "utilities": ["北京市自来水集团", "国网北京丰台供电公司", "北京燃气集团丰台分公司"],
    "property_service": ["{property}", "六里桥街道城市管理办公室", "{committee}"],
    "sanitation": ["六里桥街道环境卫生所", "{committee}"],
    "noise": ["丰台区城市管理综合行政执法局六里桥执法队", "六里桥派出所"],
    "neighbor_dispute": ["{committee}", "六里桥司法所"],
    "elderly_care": ["六里桥街道民生保障办公室", "{committee}"],
    "parking_traffic": ["丰台交通支队六里桥大队", "六里桥街道城市管理办公室", "{property}"],
    "livelihood": ["六里桥街道民生保障办公室", "六里桥街道社区服务中心"],
    "safety_hazard": ["六里桥街道平安建设办公室", "丰台区消防救援支队", "{committee}"],
    "other": ["六里桥街道办事处", "{committee}"],
}
# Median hours from first contact to closure, per category.
CLOSURE_HOURS = {"heating": 20, "utilities": 10, "housing_leak": 90, "drainage": 30, "waterlogging": 24,
                 "neighbor_dispute": 70, "parking_traffic": 60, "safety_hazard": 50}
RESOLUTION = {"housing_leak": 0.7, "drainage": 0.8, "parking_traffic": 0.72, "neighbor_dispute": 0.7, "noise": 0.78}
COMPLAINT_CATEGORIES = ("noise", "neighbor_dispute", "parking_traffic", "sanitation", "other", "livelihood")
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 7, 9, 8, 7, 5, 6, 7, 7, 6, 5, 5, 6, 5, 4, 3, 2]
NIGHT_HOUR_WEIGHTS = [4, 3, 1, 0.5, 0.2, 0.2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4, 6, 8, 9, 7]
WEEKDAY_VOLUME = (1.15, 1.08, 1.03, 1.0, 0.97, 0.86, 0.81)


# --- small helpers ---------------------------------------------------------------------------------

def _rng(seed: int, component: str) -> random.Random:
    """A generator of its own per component: a change in one part does not shift the others."""
    # the seed string keeps the module's old name (minqing.generate): the same seed gives the same landing
    return random.Random(f"minqing.generate:{seed}:{component}")


def _pick(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 40:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _ensure_each(rng: random.Random, assigned: list, options) -> None:
    """Reassign some positions so that every option occurs at least once, where there is room."""
    for option in options:
        if option in assigned:
            continue
        counts = Counter(assigned)
        spare = [i for i, a in enumerate(assigned) if counts[a] > 1]
        if not spare:
            return
        assigned[rng.choice(spare)] = option


def _ensure_some(rng: random.Random, flags: list[bool], eligible: list[int] | None = None) -> None:
    """At least one True among the eligible positions (all positions when None)."""
    positions = list(range(len(flags))) if eligible is None else eligible
    if positions and not any(flags[i] for i in positions):
        flags[rng.choice(positions)] = True


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=BEIJING)


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59))


def _excel_serial(moment: dt.datetime) -> str:
    # A millisecond of bias so that readers truncating to whole seconds get the second written.
    seconds = (moment - dt.datetime(1899, 12, 30)).total_seconds() + 0.001
    return f"{seconds / 86400:.10f}".rstrip("0").rstrip(".")


def format_hotline_time(moment: dt.datetime, style: str) -> str:
    if style == "iso":
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    if style == "slash":
        return f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment.minute:02d}"
    if style == "chinese":
        return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
    if style == "excel":
        return _excel_serial(moment)
    raise ValueError(style)


def _impossible_time(rng: random.Random, moment: dt.datetime, style: str) -> str:
    month, day = rng.choice(IMPOSSIBLE_DAYS)
    if style == "slash":
        return f"{moment.year}/{month}/{day} {moment.hour}:{moment.minute:02d}"
    if style == "chinese":
        return f"{moment.year}年{month}月{day}日 {moment:%H:%M}"
    return f"{moment.year}-{month:02d}-{day:02d} {moment:%H:%M:%S}"  # an Excel serial cannot be impossible


def format_mp_time(moment: dt.datetime, style: str):
    aware = _aware(moment)
    if style == "epoch_ms":
        return int(aware.timestamp()) * 1000
    if style == "utc":
        return aware.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return aware.isoformat()


# --- the calendar ----------------------------------------------------------------------------------

def _season_day(day: dt.date, name: str, key: str) -> dt.date:
    """A season's start or end (month-day in settings.yml, forecast.seasons) in the year of `day`."""
    month, day_of_month = (int(part) for part in settings()["forecast"]["seasons"][name][key].split("-"))
    return dt.date(day.year, month, day_of_month)


def flood_season_curve(day: dt.date, *, outside: float, rising: tuple[float, float], peak: float,
                       falling: tuple[float, float]) -> float:
    """A value over the flood season (domain.md; dates in settings.yml, forecast.seasons): `outside`
    out of it, linear from rising[0] on its first day to rising[1] on the eve of its peak ("七下八上"),
    `peak` through the peak, linear from falling[0] after the peak to falling[1] on its last day."""
    start, end = _season_day(day, "flood", "start"), _season_day(day, "flood", "end")
    peak_start, peak_end = _season_day(day, "flood_peak", "start"), _season_day(day, "flood_peak", "end")
    if day < start or day > end:
        return outside
    if peak_start <= day <= peak_end:
        return peak
    if day < peak_start:
        return rising[0] + (rising[1] - rising[0]) * (day - start).days / (peak_start - start).days
    return falling[0] + (falling[1] - falling[0]) * (day - peak_end).days / (end - peak_end).days


def flood_phase(day: dt.date) -> float:
    """0 outside the flood season (1 June – 15 September), rising to 1 in its peak (20 July – 10 August)."""
    return flood_season_curve(day, outside=0.0, rising=(0.35, 1.0), peak=1.0, falling=(1.0, 0.3))


def heating_season_start(day: dt.date) -> dt.date:
    return dt.date(day.year if day.month >= 7 else day.year - 1, 11, 15)


def heating_phase(day: dt.date) -> float:
    """1 + a surge in the first days of the season (15 November – 15 March); small outside it."""
    start = heating_season_start(day)
    end = dt.date(start.year + 1, 3, 15)
    if start <= day <= end:
        return 1.0 + 7.0 * math.exp(-(day - start).days / 5)
    if dt.date(start.year, 11, 1) <= day < start:
        return 0.35  # trial runs, questions about when the heating starts
    if end < day <= dt.date(start.year + 1, 3, 31):
        return 0.25
    return 0.15  # fees, summer repairs of the pipes


# Rain (0 dry, 1 rain, 2 heavy rain) soaks roofs, walls and the ground: what a day's rain adds to the
# soaking, and the share of the soaking left the next day. Leaks and standing water follow the
# soaking, so they rise over the days of a rain spell and ebb over the dry days after it.
RAIN_SOAK = {0: 0.0, 1: 1.0, 2: 2.5}
SOAK_KEEP = 0.5
# How much of the flood season's trouble reaches a community's homes and courtyards: ageing roofs
# and waterproofing, low courtyards and old drains in the older estates; low-lying lanes and
# bungalows in the villages; maintained roofs and pumps where a property company runs the estate.
RAIN_EXPOSURE = {"old": 1.0, "village": 0.8, "military": 0.6, "railway": 0.5, "managed": 0.3}


def rain_spell_chance(day: dt.date) -> float:
    """Chance that a rain spell (降雨过程) begins on a dry day: rare outside the flood season,
    scattered thunderstorms in its first weeks, one spell after another in its peak ("七下八上",
    20 July – 10 August), fewer again towards its end (15 September)."""
    return flood_season_curve(day, outside=0.04, rising=(0.07, 0.15), peak=0.45, falling=(0.25, 0.08))


class Calendar:
    """Weather and seasons of the simulated days: volume per day, category mix per day and community.

    Rain comes in spells: in the flood season's peak spells of two to four days, their later days
    often heavy, follow each other with a dry day or two between; before the peak it rains now and
    then, a day or two at a time. The soaking the rain leaves (`soak`) drives roof leaks and
    standing water, most of all in the older estates (RAIN_EXPOSURE); a rain warning for the next
    day (`warned`) already brings reports of cracked roofs and blocked gullies. These demands come
    on top of the usual ones: a wet day brings more demands, and more of them from the exposed
    communities (`surge`)."""

    WARM_UP_DAYS = 14  # weather simulated before the first day, so that it starts with its soaking

    def __init__(self, rng: random.Random, start: dt.date, days: int, communities: tuple[Community, ...] = COMMUNITIES):
        self.communities = communities  # the street's
        self.days = [start + dt.timedelta(days=i) for i in range(days)]
        self.rain: dict[dt.date, int] = {}     # 0 dry, 1 rain, 2 heavy rain
        self.soak: dict[dt.date, float] = {}   # the soaking at the end of the day
        self.warned: dict[dt.date, int] = {}   # the next day's rain, as the forecast announces it
        self.cold: dict[dt.date, bool] = {}    # cold wave in the heating season
        weather = [start + dt.timedelta(days=i) for i in range(-self.WARM_UP_DAYS, days + 1)]
        rain: dict[dt.date, int] = {}
        spell: list[int] = []
        for day in weather:
            if not spell and (not rain or rain[day - dt.timedelta(days=1)] == 0) \
                    and rng.random() < rain_spell_chance(day):
                spell = self._spell(rng, day)
            rain[day] = spell.pop(0) if spell else 0
        soak = 0.0
        for day in weather[:-1]:
            soak = SOAK_KEEP * soak + RAIN_SOAK[rain[day]]
            if day >= start:
                self.rain[day], self.soak[day] = rain[day], soak
                self.warned[day] = rain[day + dt.timedelta(days=1)]
        cold_left = 0
        for day in self.days:
            in_heating = heating_phase(day) >= 1.0
            if in_heating and cold_left == 0 and rng.random() < 0.05:
                cold_left = 3
            self.cold[day] = in_heating and cold_left > 0
            cold_left = max(0, cold_left - 1)
        self._surge = {(day, c.name): self._community_surge(day, c) for day in self.days for c in self.communities}
        raw = [self._raw_volume(day) for day in self.days]
        mean = sum(raw) / len(raw)
        self.volume = {day: value / mean for day, value in zip(self.days, raw)}

    @staticmethod
    def _spell(rng: random.Random, day: dt.date) -> list[int]:
        """The days of a rain spell beginning on `day`: mostly light on its first day, heavy on the
        days after it more often the deeper into the flood season."""
        phase = flood_phase(day)
        length = rng.randint(2, 4) if phase >= 1.0 else rng.choice((1, 1, 2, 2, 3))
        heavy = 0.05 + 0.55 * phase ** 2
        return [2 if rng.random() < (heavy if k else heavy / 3) else 1 for k in range(length)]

    def _raw_volume(self, day: dt.date) -> float:
        factor = WEEKDAY_VOLUME[day.weekday()]
        total = sum(c.weight for c in self.communities)
        factor *= sum(c.weight * self._surge[(day, c.name)] for c in self.communities) / total
        if heating_phase(day) >= 1.0:
            factor *= 1.0 + 0.3 * math.exp(-(day - heating_season_start(day)).days / 4)
        if self.cold[day]:
            factor *= 1.1
        return factor

    def _community_surge(self, day: dt.date, community: Community) -> float:
        wet = sum(self.category_weights(day, community).values())
        dry = sum(self.category_weights(day, community, dry=True).values())
        return wet / dry

    def community_weights(self, day: dt.date) -> list[float]:
        """Relative volume of each community's demands on the day (`communities` order): its own weight,
        raised on wet days by the leaks and standing water the rain brings it."""
        return [c.weight * self._surge[(day, c.name)] for c in self.communities]

    def category_weights(self, day: dt.date, community: Community, dry: bool = False) -> dict[str, float]:
        """The category mix of the community's new demands on the day; `dry`: as if it had not rained."""
        phase = flood_phase(day)
        soak = 0.0 if dry else self.soak[day]
        warned = 0 if dry else self.warned[day]
        exposure = RAIN_EXPOSURE[community.kind] * phase
        weights = dict(BASE_CATEGORY_WEIGHTS)
        weights["waterlogging"] = 0.3 + 12 * exposure * soak
        weights["housing_leak"] *= 1 + exposure * (1.5 * min(soak, 4.0) + 0.4 * warned)
        weights["drainage"] *= 1 + exposure * (0.6 * min(soak, 4.0) + 0.3 * warned)
        weights["heating"] = 3 * heating_phase(day) * (2.2 if self.cold[day] else 1)
        if 6 <= day.month <= 9:
            weights["sanitation"] *= 1.3
        if 5 <= day.month <= 9:
            weights["noise"] *= 1.2
        if day.month in (7, 8):
            weights["utilities"] *= 1.2
        for code, factor in KIND_CATEGORY_FACTORS[community.kind].items():
            weights[code] *= factor
        return weights


# --- residents ---------------------------------------------------------------------------------------

MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                   "156", "157", "158", "159", "166", "176", "177", "180", "181", "182", "185", "186", "187", "188",
                   "189", "198", "199")


@dataclass
class Resident:
    rid: int
    community: Community
    name: str
    surname: str
    honorific: str
    phone: str            # 13812345678, or a landline 010-63xxxxxx
    landline: bool
    building: int | None  # None: a one-storey house in a village (平房)
    unit: int
    room: str             # 502, or the house number
    lane: str
    activity: float       # how often this resident raises a demand
    openid: str
    nickname: str

    @property
    def floor(self) -> int:
        return int(self.room[:-2]) if self.building is not None else 1

    def home(self) -> str:
        if self.building is None:
            return f"{self.lane}{self.room}号"
        return f"{self.building}号楼{self.unit}单元{self.room}"


class Population:
    """A pool of residents per community with stable phone numbers; a few call very often."""

    def __init__(self, rng: random.Random, communities: tuple[Community, ...] = COMMUNITIES):
        self.rng = rng
        self.pools: dict[str, list[Resident]] = {}
        self.phones: dict[str, bool] = {}
        self.count = 0
        for community in communities:
            self.pools[community.name] = []
            for _ in range(int(40 + 30 * community.weight)):
                self.new_resident(community)

    def new_resident(self, community: Community, building: int | None = None) -> Resident:
        rng = self.rng
        surname = rng.choice(SURNAMES)
        given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
        landline = rng.random() < 0.12
        while True:
            if landline:
                phone = f"010-{rng.choice(('63', '83', '63'))}{rng.randrange(10**6):06d}"
            else:
                phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones[phone] = True
                break
        in_house = community.is_village and building is None and rng.random() < 0.3
        if in_house:
            building_no, unit, room = None, 1, str(rng.randint(1, 160))
        else:
            building_no = building or rng.randint(1, community.buildings)
            unit = rng.randint(1, 4 if community.top_floor <= 6 else 3)
            room = f"{rng.randint(1, community.top_floor)}0{rng.randint(1, 4 if community.top_floor <= 6 else 6)}"
        self.count += 1
        resident = Resident(
            rid=self.count, community=community, name=surname + given, surname=surname,
            honorific=rng.choice(HONORIFICS), phone=phone, landline=landline, building=building_no, unit=unit,
            room=room, lane=rng.choice(VILLAGE_LANES), activity=min(rng.paretovariate(1.3), 40.0),
            openid="o" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
                                 for _ in range(27)),
            nickname=rng.choice(NICKNAMES),
        )
        self.pools[community.name].append(resident)
        return resident

    def pick(self, community: Community) -> Resident:
        if self.rng.random() < 0.15:
            return self.new_resident(community)
        pool = self.pools[community.name]
        return self.rng.choices(pool, weights=[r.activity for r in pool])[0]

    def neighbour(self, community: Community, building: int | None, other_than: Resident) -> Resident:
        pool = [r for r in self.pools[community.name] if r is not other_than and (building is None
                                                                                   or r.building == building)]
        if not pool or self.rng.random() < 0.3:
            return self.new_resident(community, building)
        return self.rng.choice(pool)


# --- issues and demands ----------------------------------------------------------------------------------

@dataclass
class Issue:
    """One problem at one address; several demands may report it."""

    iid: int
    community: Community
    category: str
    kind: dict
    scope: str                # home | building | public
    reporter: Resident
    opened: dt.date
    slots: dict
    address: str              # the part after the community name: 3号楼2单元502, 3号楼2单元, 小区东门
    core: int = 0             # which of its kind's texts the issue is: every report of it tells that one
    reports: int = 0
    near_miss_of: int | None = None  # the iid of the issue this one was made to look like, if any
    near_miss: str | None = None     # how: "same_building" (another kind) or "same_text" (another building)


@dataclass
class Demand:
    did: int
    at: dt.datetime
    community: Community
    resident: Resident
    issue: Issue
    channel: str
    repeat: str | None        # None, "again" (same resident), "neighbour" (same address, another resident)
    times: int                # how many times this issue has been reported, this one included

    @property
    def day(self) -> dt.date:
        return self.at.date()

    @property
    def category(self) -> str:
        return self.issue.category


def _kinds_for(category: str, community: Community) -> list[dict]:
    fits = {None, "village"} if community.is_village else {None, "estate",
                                                           "high_rise" if community.top_floor > 6 else "low_rise"}
    return [k for k in CATEGORIES[category]["kinds"] if k.get("only") in fits]


def _new_issue(rng: random.Random, iid: int, day: dt.date, community: Community, category: str,
               resident: Resident, *, kind: dict | None = None, building: int | None = None,
               not_at: str | None = None) -> Issue:
    """A new issue the resident reports. A near-miss overrides the `kind` (else drawn), the `building`
    of the bld slot (else the resident's, or any) and gives an address the issue must not have (`not_at`)."""
    if kind is None:
        kinds = _kinds_for(category, community)
        weights = [1.0] * len(kinds)
        if category == "heating":  # cold radiators in the season, fees and leaks outside it
            cold = ("暖气不热", "暖气片冰凉")
            in_season = heating_phase(day) >= 1.0
            weights = [(4.0 if in_season else 0.1) if k["title"] in cold else 1.0 for k in kinds]
        kind = rng.choices(kinds, weights=weights)[0]
    scope = kind["scope"]
    if scope == "building" and resident.building is None:
        scope = "public"
    building = building or resident.building or rng.randint(1, community.buildings)
    other = rng.randint(1, community.buildings)
    places = [p.format(bld=building, bld2=other) for p in (PLACES_VILLAGE if community.is_village else PLACES_ESTATE)]
    place = rng.choice([p for p in places if p != not_at])
    upstairs = (f"{int(resident.room) + 100}" if resident.building is not None
                and resident.floor < community.top_floor else "")
    slots = {
        "community": community.name, "bld": building, "unit": resident.unit, "room": resident.room,
        "floor": resident.floor, "upstairs": upstairs, "place": place, "room_part": rng.choice(ROOM_PARTS),
        "temp": rng.randint(12, 17), "hour": rng.choice((11, 12, "十一", "十二", 1)), "depth": rng.choice(DEPTHS),
        "staff": rng.choice(("王书记", "李主任", "小张", "刘大姐", "网格员小赵")), "bld2": other,
    }
    if scope == "home":
        address = resident.home()
    elif scope == "building":
        address = f"{building}号楼{resident.unit}单元" if rng.random() < 0.5 else f"{building}号楼"
    else:
        address = place
    # the fact the reports tell (the kind's texts are different facts of one kind of problem: rats or
    # cockroaches, a loose manhole cover or a missing one); each report words it its own way around it
    core = rng.randrange(len(kind["texts"]))
    return Issue(iid, community, category, kind, scope, resident, day, slots, address, core)


def _near_miss(rng: random.Random, issue_rng: random.Random, iid: int, day: dt.date, community: Community,
               open_issues: list[Issue], population: Population) -> Issue | None:
    """Now and then (RATES near_miss_*) a new issue made to look like a recent one of the community
    but another problem: the same category at the same building but another kind of problem
    ("same_building"), or the same kind of problem, in the same words, at another building
    ("same_text"). None when the draw says no or no such issue can be made. `rng` (a generator of
    its own) decides and picks the issue neared; `issue_rng` draws the rest, as for any new issue."""
    draw = rng.random()
    same_building = RATES["near_miss_same_building"]
    targets = [i for i in open_issues if (day - i.opened).days <= NEAR_MISS_DAYS]
    if draw >= same_building + RATES["near_miss_same_text"] or not targets:
        return None
    target = rng.choice(targets)
    building = target.slots["bld"]
    if draw < same_building:
        variant = "same_building"
        kinds = [k for k in _kinds_for(target.category, community) if k["title"] != target.kind["title"]]
        if not kinds:
            return None
        kind = rng.choice(kinds)
    else:
        variant, kind = "same_text", target.kind
        if community.buildings < 2:
            return None
        while building == target.slots["bld"]:
            building = rng.randint(1, community.buildings)
    resident = population.neighbour(community, building, target.reporter)
    issue = _new_issue(issue_rng, iid, day, community, target.category, resident, kind=kind, building=building,
                       not_at=target.address if variant == "same_text" else None)
    issue.near_miss_of, issue.near_miss = target.iid, variant
    if variant == "same_text":
        issue.core = target.core  # the same fact, in the same words, at another building
    return issue


def _place(issue: Issue) -> str:
    """Where an issue is, as a reader of its reports would tell: the home, the building (whatever unit the
    reporter named) or the public place."""
    return f"building {issue.slots['bld']}" if issue.scope == "building" else issue.address


@dataclass(frozen=True)
class Effect:
    """An intervention's effect injected into the demands (issue 20: its estimate is checked against it):
    from `start` (to `end`), each demand of `community` (its name) in `categories` (every category when
    empty) is kept with probability 1 + size when size < 0, and brings a neighbour's report of the same
    issue with probability size when size > 0: the community's demands there are ×(1 + size), on average."""

    community: str
    start: dt.date
    size: float
    categories: tuple[str, ...] = ()
    end: dt.date | None = None

    @classmethod
    def parse(cls, text: str) -> Effect:
        """COMMUNITY:START:SIZE[:CATEGORY,CATEGORY...], e.g. 八一厂社区:2026-09-01:-0.4:neighbor_dispute,noise."""
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise ValueError(f"{text!r}: an effect is COMMUNITY:START:SIZE[:CATEGORIES]")
        name, start, size = parts[0], dt.date.fromisoformat(parts[1]), float(parts[2])
        if name not in {c.name for c in COMMUNITIES}:
            raise ValueError(f"{text!r}: {name} is not a community of the generator")
        if not -1 < size <= 1:
            raise ValueError(f"{text!r}: the size is a change between -1 (exclusive) and 1")
        categories = tuple(c for c in (parts[3].split(",") if len(parts) == 4 else []) if c)
        unknown = set(categories) - set(CATEGORY_CODES)
        if unknown:
            raise ValueError(f"{text!r}: unknown categories {sorted(unknown)}")
        return cls(name, start, size, categories)

    def applies(self, community: Community, category: str, day: dt.date) -> bool:
        return (community.name == self.community and day >= self.start and (self.end is None or day <= self.end)
                and (not self.categories or category in self.categories))


def simulate(seed: int, calendar: Calendar, per_day: float, population: Population,
             effects: tuple[Effect, ...] = ()) -> list[Demand]:
    """Every resident demand of the run, in time order. `effects` thin or add demands (their own random
    draws: without them the run is the same)."""
    rng = _rng(seed, "demands")
    near_miss_rng = _rng(seed, "near-misses")
    effect_rng = _rng(seed, "effects")
    demands: list[Demand] = []
    communities = calendar.communities
    recent: dict[str, list[Issue]] = {c.name: [] for c in communities}
    issue_count = 0
    for day in calendar.days:
        todays = []
        community_weights = calendar.community_weights(day)
        for _ in range(_poisson(rng, per_day * calendar.volume[day])):
            community = rng.choices(communities, weights=community_weights)[0]
            open_issues = [i for i in recent[community.name] if 1 <= (day - i.opened).days <= 30]
            draw = rng.random()
            repeat = None
            if draw < 0.12 and open_issues:
                issue = rng.choices(open_issues, weights=[i.reporter.activity for i in open_issues])[0]
                resident, repeat = issue.reporter, "again"
            elif draw < 0.19 and (shared := [i for i in open_issues if i.scope != "home"
                                             and (day - i.opened).days <= 10]):
                issue = rng.choice(shared)
                building = issue.slots["bld"] if issue.scope == "building" else None
                resident, repeat = population.neighbour(community, building, issue.reporter), "neighbour"
            else:
                issue_count += 1
                issue = _near_miss(near_miss_rng, rng, issue_count, day, community, open_issues, population)
                if issue is None:
                    resident = population.pick(community)
                    category = _pick(rng, calendar.category_weights(day, community))
                    issue = _new_issue(rng, issue_count, day, community, category, resident)
                    # the same kind of problem at the same address within the month is the same problem,
                    # reported again by whoever noticed it: nobody could tell two such issues apart, so
                    # the truth does not hold two (near-misses differ on purpose, in kind or building)
                    same = next((i for i in reversed(recent[community.name]) if i.category == issue.category
                                 and i.kind["title"] == issue.kind["title"] and _place(i) == _place(issue)), None)
                    if same is not None:
                        issue_count -= 1
                        issue, repeat = same, ("again" if resident is same.reporter else "neighbour")
            effect = next((e for e in effects if e.applies(community, issue.category, day)), None)
            if effect is not None and effect.size < 0 and effect_rng.random() < -effect.size:
                continue  # the intervention prevented it (a new issue never reported is forgotten)
            if repeat is None:
                resident = issue.reporter
                recent[community.name].append(issue)
            extra = effect is not None and effect.size > 0 and effect_rng.random() < effect.size
            issue.reports += 1
            channel = _choose_channel(rng, day, community, repeat)
            hours = NIGHT_HOUR_WEIGHTS if issue.category == "noise" else HOUR_WEIGHTS
            if channel == RECEPTION:
                hours = [0] * 8 + [3, 5, 5, 3, 0, 0, 3, 4, 3, 1] + [0] * 6
            hour = rng.choices(range(24), weights=hours)[0]
            at = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)))
            todays.append(Demand(0, at, community, resident, issue, channel, repeat, issue.reports))
            if extra:  # a neighbour reports it too, later that day
                issue.reports += 1
                neighbour = population.neighbour(community, issue.slots["bld"] if issue.scope == "building" else None,
                                                 issue.reporter)
                late = min(at + dt.timedelta(minutes=effect_rng.randrange(1, 60)), dt.datetime.combine(day, dt.time(23, 59, 59)))
                todays.append(Demand(0, late, community, neighbour, issue, _choose_channel(effect_rng, day, community, "neighbour"),
                                     "neighbour", issue.reports))
        for community in communities:  # forget issues older than a month
            recent[community.name] = [i for i in recent[community.name] if (day - i.opened).days <= 30]
        todays.sort(key=lambda d: d.at)
        for demand in todays:
            demand.did = len(demands) + 1
            demands.append(demand)
    return demands


def _choose_channel(rng: random.Random, day: dt.date, community: Community, repeat: str | None) -> str:
    mix = dict(CHANNEL_MIX[community.kind])
    if day.weekday() == community.reception_weekday:
        mix[RECEPTION] *= 2.5
    elif day.weekday() >= 5:
        mix[RECEPTION] *= 0.5
    if repeat == "again" and rng.random() < 0.6:
        return LINE_12345  # unresolved: escalate to the city hotline
    return _pick(rng, mix)


# --- texts -----------------------------------------------------------------------------------------------

def _fill(template: str, slots: dict) -> str:
    return template.format(**slots)


def resident_text(rng: random.Random, demand: Demand, *, short: bool = False) -> str:
    """What the resident says or types, first person."""
    issue = demand.issue
    slots = dict(issue.slots, times=max(demand.times, 2), duration=rng.choice(DURATIONS))
    if demand.community.short and rng.random() < 0.4:
        slots["community"] = demand.community.short
    kind = issue.kind
    neutral = kind.get("demand_type") in ("表扬", "建议", "咨询")
    parts = []
    if not short and rng.random() < 0.6:
        openers = OPENERS if demand.resident.building is not None else [o for o in OPENERS if "{bld}" not in o]
        parts.append(_fill(rng.choice(openers), slots))
    if demand.repeat == "again":
        parts.append(_fill(rng.choice(FOLLOW_UPS), slots))
    elif demand.repeat == "neighbour" and rng.random() < 0.6:
        parts.append(rng.choice(NEIGHBOR_REPORTS))
    core = _fill(kind["texts"][issue.core], slots)
    sentences = [core]
    category = CATEGORIES[issue.category]
    details = kind.get("details", []) + category["details"]
    requests = kind.get("requests", []) + category["requests"]
    if not neutral:
        if rng.random() < 0.6:
            sentences.append(slots["duration"])
        if details and rng.random() < 0.5:
            sentences.append(rng.choice(details))
        if not short and rng.random() < (0.6 if demand.repeat == "again" else 0.35):
            sentences.append(rng.choice(PRIOR_ATTEMPTS))
        if not short and rng.random() < RATES["content_quotes"]:
            sentences.append(rng.choice(QUOTED_REMARKS))
    if rng.random() < 0.6:
        sentences.append(rng.choice(requests))
    text = "".join(parts) + "，".join(sentences) + "。"
    if not neutral and not short and rng.random() < 0.5:
        text += rng.choice(EMOTIONS)
    if not short and rng.random() < RATES["content_long"]:
        text = _long_story(rng, text, category, slots)
    return text


def _long_story(rng: random.Random, text: str, category: dict, slots: dict) -> str:
    target = rng.randint(400, 2500)
    pieces = [text]
    while sum(len(p) for p in pieces) < target:
        pool = LONG_STORY + [_fill(t, slots) for k in category["kinds"] for t in k["texts"]]
        pieces.append(rng.choice(pool) + rng.choice(("，", "。", "。", "！")))
    return "".join(pieces)


def _messy(rng: random.Random, text: str) -> str:
    """ASCII commas and line breaks, as operators and residents type them."""
    if rng.random() < RATES["content_ascii_commas"]:
        text = text.replace("，", rng.choice((",", ", ")))
    if rng.random() < RATES["content_line_break"]:
        cut = [m.end() for m in re.finditer("[。，,！]", text)][:-1]
        if cut:
            at = rng.choice(cut)
            text = text[:at] + rng.choice(("\n", "\r\n", "\n\n")) + text[at:]
    return text


def hotline_text(rng: random.Random, demand: Demand, line: str) -> str:
    speech = resident_text(rng, demand)
    if line == LINE_400:
        return _messy(rng, rng.choice(LINE_400_PREFIXES) + speech)
    return _messy(rng, rng.choice(OPERATOR_PREFIXES) + speech + rng.choice(OPERATOR_SUFFIXES))


def reception_note(rng: random.Random, demand: Demand, method: str) -> str:
    issue = demand.issue
    slots = dict(issue.slots, times=demand.times, duration=rng.choice(DURATIONS))
    prefix = _fill(rng.choice(RECEPTION_PREFIXES[method]), {"name": demand.resident.surname
                                                            + demand.resident.honorific})
    note = _fill(issue.kind["note"], slots)
    if method != "巡查" and rng.random() < 0.3:
        note += "，" + rng.choice(DURATIONS)
    if demand.repeat == "again" and rng.random() < 0.5:
        note += "（多次反映）"
    return prefix + note


# --- hotline work orders ------------------------------------------------------------------------------------

@dataclass
class WorkOrder:
    order_id: str
    line: str
    demand: Demand
    events: list[tuple[dt.datetime, str, dict]]
    display: dict             # what the order shows in every export: name, phone, address, ...
    omit: tuple[str, ...]     # time columns the source system leaves empty for this order

    def state_at(self, cutoff: dt.datetime) -> tuple[dict, dt.datetime] | None:
        state: dict = {}
        last = None
        for at, status, updates in self.events:
            if at > cutoff:
                break
            state.update(updates)
            state["办理状态"] = status
            last = at
        return (state, last) if last else None


def _minutes(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(value * 60))


def _hours(value: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(value * 3600))


def _unit(rng: random.Random, category: str, community: Community, exclude: str | None = None) -> str:
    # the street's own offices (六里桥街道城市管理办公室, 丰台交通支队六里桥大队) are the community's street's
    short = community.street.removesuffix("街道")
    units = [u.replace("六里桥", short).format(property=community.property_unit or community.committee,
                                              committee=community.committee)
             for u in HANDLING_UNITS[category]]
    choices = [u for u in units if u != exclude] or units
    return rng.choice(choices)


def _visit(rng: random.Random, category: str, community: Community, returned: bool) -> dict:
    if rng.random() < 0.05:
        return {"满意度": "未回访"}
    p_resolved = RESOLUTION.get(category, 0.86) * (0.93 if community.kind in ("old", "village") else 1.0)
    if community.service != 1.0:  # another street's profile; 六里桥's draws stay what they were, byte for byte
        p_resolved = min(0.99, p_resolved * community.service)
    resolved = rng.random() < p_resolved - (0.1 if returned else 0)
    if resolved:
        satisfaction = _pick(rng, {"满意": 0.8, "基本满意": 0.17, "不满意": 0.03})
    else:
        satisfaction = _pick(rng, {"满意": 0.1, "基本满意": 0.35, "不满意": 0.55})
    return {"是否解决": "是" if resolved else "否", "满意度": satisfaction}


def _events_12345(rng: random.Random, demand: Demand) -> list[tuple[dt.datetime, str, dict]]:
    category, community, t0 = demand.category, demand.community, demand.at
    events = [(t0, "待派单", {})]
    if t0.hour >= 21 or t0.hour < 7:
        next_morning = t0.date() + dt.timedelta(days=1 if t0.hour >= 21 else 0)
        dispatched = dt.datetime.combine(next_morning, dt.time(8)) + _minutes(rng.uniform(0, 90))
    else:
        dispatched = t0 + _minutes(rng.uniform(8, 150))
    unit = _unit(rng, category, community)
    events.append((dispatched, "已派单", {"派单时间": dispatched, "承办单位": unit}))
    accepted = dispatched + _minutes(rng.lognormvariate(math.log(90), 0.8))
    if rng.random() < 0.04:
        accepted += _hours(rng.uniform(24, 40))
    events.append((accepted, "已签收", {"签收时间": accepted}))
    returned = rng.random() < 0.07
    if returned:
        back = accepted + _hours(rng.uniform(1, 20))
        events.append((back, "已退单", {}))
        again = back + _hours(rng.uniform(1, 16))
        unit = _unit(rng, category, community, exclude=unit)
        events.append((again, "已派单", {"派单时间": again, "承办单位": unit, "签收时间": None}))
        accepted = again + _minutes(rng.lognormvariate(math.log(60), 0.7))
        events.append((accepted, "已签收", {"签收时间": accepted}))
    contact = accepted + _hours(rng.lognormvariate(math.log(3), 0.9))
    if rng.random() < 0.1:
        contact += _hours(rng.uniform(24, 60))  # contacted too late
    events.append((contact, "办理中", {"首次联系时间": contact}))
    handling = _hours(min(rng.lognormvariate(math.log(CLOSURE_HOURS.get(category, 48)), 0.9), 24 * 20))
    closed = contact + handling
    if closed - t0 > dt.timedelta(days=7) or rng.random() < 0.04:
        extended = max(contact + _hours(2), t0 + dt.timedelta(days=6) + _hours(rng.uniform(0, 10)))
        closed = max(closed, extended + _hours(rng.uniform(24, 96)))
        events.append((extended, "延期办理", {}))
    events.append((closed, "已办结", {"办结时间": closed}))
    visited = closed + _hours(rng.uniform(2, 40))
    events.append((visited, "已办结", _visit(rng, category, community, returned)))
    return _strictly_increasing(events)


def _events_400(rng: random.Random, demand: Demand) -> list[tuple[dt.datetime, str, dict]]:
    category, community, t0 = demand.category, demand.community, demand.at
    # dispatched within seconds, and on the day it came in, so that it is in that day's export
    dispatched = min(t0 + dt.timedelta(seconds=rng.randint(5, 90)), _end_of(t0.date()))
    events = [(dispatched, "已派单", {"派单时间": dispatched, "承办单位": community.property_unit})]
    accepted = dispatched + _minutes(rng.uniform(2, 40))
    events.append((accepted, "已签收", {"签收时间": accepted}))
    contact = accepted + _minutes(rng.uniform(5, 120))
    events.append((contact, "办理中", {"首次联系时间": contact}))
    closed = contact + _hours(min(rng.lognormvariate(math.log(10), 1.0), 24 * 10))
    events.append((closed, "已办结", {"办结时间": closed}))
    visited = closed + _hours(rng.uniform(1, 24))
    events.append((visited, "已办结", _visit(rng, category, community, False)))
    return _strictly_increasing(events)


def _strictly_increasing(events: list) -> list:
    out = []
    for at, status, updates in events:
        if out and at <= out[-1][0]:
            at = out[-1][0] + dt.timedelta(seconds=1)
        out.append((at.replace(microsecond=0), status, updates))
    return out


def _community_field(rng: random.Random, community: Community) -> str:
    form = _pick(rng, RATES["community"])
    if form == "short" and community.short:
        return community.short
    if form == "street":
        return community.street + community.name
    if form == "district":
        return DISTRICT + community.street + community.name
    if form == "empty":
        return ""
    return community.name


def _address(rng: random.Random, issue: Issue, community_field: str) -> str:
    community = issue.community
    tail = issue.address
    if issue.scope == "home" and issue.reporter.building is not None and rng.random() < 0.1:
        tail = f"{issue.reporter.building}-{issue.reporter.unit}-{issue.reporter.room}"
    elif issue.scope == "home" and rng.random() < 0.15:
        tail += "室" if issue.reporter.building is not None else ""
    street = community.street
    forms = {f"{DISTRICT}{street}{community.name}": 0.45, f"北京市{DISTRICT}{street}{community.name}": 0.1,
             community.name: 0.25, f"{street}{community.name}": 0.1}
    if community_field and community.short:  # the community is known from its own field: shorter forms occur
        forms[f"{DISTRICT}{community.short}"] = 0.05
        forms[community.short] = 0.05
    return _pick(rng, forms) + tail


def _name_field(rng: random.Random, resident: Resident) -> str:
    form = _pick(rng, RATES["name"])
    return {"full": resident.name, "honorific": resident.surname + resident.honorific, "empty": "",
            "anonymous": "匿名"}[form]


def phone_field(rng: random.Random, resident: Resident, rates: dict | None = None) -> str:
    if resident.landline:
        return resident.phone
    form = _pick(rng, rates or RATES["phone"])
    phone = resident.phone
    return {"plain": phone, "spaced": f"{phone[:3]} {phone[3:7]} {phone[7:]}", "plus86": f"+86 {phone}",
            "masked": f"{phone[:3]}****{phone[7:]}", "empty": ""}[form]


def _hotline_path(rng: random.Random, category: str) -> str:
    if rng.random() < RATES["hotline_category_empty"]:
        return ""
    if rng.random() < RATES["hotline_category_other"]:
        category = rng.choice(CATEGORY_CODES)
    return rng.choice(CATEGORIES[category]["paths"])


def _demand_type(rng: random.Random, demand: Demand) -> str:
    fixed = demand.issue.kind.get("demand_type")
    if fixed:
        return fixed
    if demand.category in ("noise", "safety_hazard", "parking_traffic") and rng.random() < 0.2:
        return "举报"
    return _pick(rng, {"投诉": 0.62, "求助": 0.35, "咨询": 0.03})


def build_work_orders(seed: int, demands: list[Demand], id_block: int = 0) -> list[WorkOrder]:
    """The 12345 and 400 work orders of the demands; `id_block`: another street's numbers, apart from the
    first street's (12345: 15,000 numbers a day each; 400: 2,000)."""
    rng = _rng(seed, "work-orders")
    orders = []
    sequence_12345: dict[dt.date, int] = {}
    sequence_400: dict[dt.date, int] = {}
    for demand in demands:
        if demand.channel not in (LINE_12345, LINE_400):
            continue
        day = demand.day
        if demand.channel == LINE_12345:
            # city-wide numbering: the street sees every few hundredth number of the day
            number = sequence_12345.get(day, rng.randint(10, 400)) + rng.randint(1, 300)
            sequence_12345[day] = number
            order_id = f"GD{day:%Y%m%d}{number + 15000 * id_block:05d}"
            events = _events_12345(rng, demand)
        else:
            number = sequence_400.get(day, 0) + rng.randint(1, 4)
            sequence_400[day] = number
            order_id = f"400-{day:%Y%m%d}-{number + 2000 * id_block:04d}"
            events = _events_400(rng, demand)
        community_field = _community_field(rng, demand.community)
        display = {
            "诉求人": _name_field(rng, demand.resident),
            "联系电话": phone_field(rng, demand.resident),
            "诉求类型": _demand_type(rng, demand),
            "诉求内容": hotline_text(rng, demand, demand.channel),
            "诉求地址": _address(rng, demand.issue, community_field),
            "所属街道": _pick(rng, {demand.community.street: 0.9, DISTRICT + demand.community.street: 0.05,
                                 demand.community.street.removesuffix("街道"): 0.03, "": 0.02}),
            "所属社区": community_field,
            "问题分类": _hotline_path(rng, demand.category),
            "紧急程度": "紧急" if demand.category in ("waterlogging", "utilities", "heating") and rng.random() < 0.3
            else "一般",
            "是否重复件": "是" if demand.repeat == "again" else "否",
            "工单类型": rng.choice(("直派", "区派", "街道自办")) if demand.channel == LINE_12345 else "物业工单",
        }
        omit = tuple(column for column, rate in (("派单时间", 0.03), ("签收时间", 0.02), ("首次联系时间", 0.06))
                     if rng.random() < rate)
        orders.append(WorkOrder(order_id, demand.channel, demand, events, display, omit))
    return orders


# --- mini-program tickets ---------------------------------------------------------------------------------------

@dataclass
class Ticket:
    ticket_id: str
    type: str
    community: Community
    resident: Resident
    demand: Demand | None          # None for bill payments and renovation applications
    submitted: dt.datetime
    title: str
    content: str
    events: list[tuple[dt.datetime, str, str | None]]
    rating: tuple[int, str] | None
    rated_at: dt.datetime | None
    shape: dict                    # which optional fields are missing or null, fixed per ticket
    images: list[str]

    def state_at(self, cutoff: dt.datetime):
        events = [e for e in self.events if e[0] <= cutoff]
        return events or None


def _mp_demand_type(rng: random.Random, demand: Demand) -> str:
    kind_title = demand.issue.kind["title"]
    complaint = demand.category in COMPLAINT_CATEGORIES or kind_title in ("物业收费", "物业态度差", "无人管理")
    if rng.random() < 0.15:
        complaint = not complaint
    return "complaint" if complaint else "repair"


def _ticket_events(rng: random.Random, kind: str, t0: dt.datetime):
    departments = MP_DEPARTMENTS[kind]
    events = [(t0, "submitted", None)]
    if kind == "bill_payment":
        events.append((t0 + dt.timedelta(seconds=rng.randint(2, 20)), "completed", "财务部"))
        return events, None, None
    if kind == "decoration_application":
        accepted = t0 + _hours(rng.uniform(0.5, 8))
        started = accepted + _hours(rng.uniform(20, 48))
        done = started + _hours(rng.uniform(12, 48))
        events += [(accepted, "accepted", rng.choice(departments)), (started, "in_progress", "工程部"),
                   (done, "completed", "工程部")]
        return _strictly_increasing_mp(events), None, None
    dispatched = t0 + dt.timedelta(seconds=rng.randint(1, 40))
    if _off_hours(t0) and rng.random() < 0.7:  # queued for the morning shift
        dispatched = _next_morning(rng, t0)
    events.append((dispatched, "dispatched", rng.choice(departments)))
    if rng.random() < 0.04:
        events.append((dispatched + _minutes(rng.uniform(10, 180)), "cancelled", None))
        return _strictly_increasing_mp(events), None, None
    accepted = dispatched + _minutes(rng.lognormvariate(math.log(15), 1.0))
    if _off_hours(accepted) and rng.random() < 0.8:
        accepted = _next_morning(rng, accepted)
    started = accepted + _minutes(rng.uniform(10, 300))
    median = 6 if kind == "repair" else 20
    completed = started + _hours(min(rng.lognormvariate(math.log(median), 1.0), 24 * 6))
    events += [(accepted, "accepted", None), (started, "in_progress", None), (completed, "completed", None)]
    rating = rated_at = None
    if rng.random() < 0.55:
        rated_at = completed + _hours(rng.uniform(0.5, 30))
        stars = _pick(rng, {5: 0.55, 4: 0.22, 3: 0.1, 2: 0.06, 1: 0.07})
        rating = (stars, rng.choice(MP_RATING_COMMENTS[stars]) if rng.random() < 0.6 else None)
        events.append((rated_at, "closed", None))
    else:
        events.append((completed + dt.timedelta(hours=72), "closed", "系统"))
    return _strictly_increasing_mp(events), rating, rated_at


def _off_hours(moment: dt.datetime) -> bool:
    return moment.hour >= 20 or moment.hour < 7


def _next_morning(rng: random.Random, moment: dt.datetime) -> dt.datetime:
    day = moment.date() + dt.timedelta(days=1 if moment.hour >= 20 else 0)
    return dt.datetime.combine(day, dt.time(8)) + _minutes(rng.uniform(0, 40))


def _strictly_increasing_mp(events: list) -> list:
    out = []
    for at, status, by in events:
        if out and at <= out[-1][0]:
            at = out[-1][0] + dt.timedelta(seconds=1)
        out.append((at.replace(microsecond=0), status, by))
    return out


def _ticket_shape(rng: random.Random) -> dict:
    shape = {}
    for name in ("location", "images", "user", "events", "rating"):
        draw = rng.random()
        missing = RATES["mp_missing"].get(name, 0)
        null = RATES["mp_null"].get(name, 0)
        shape[name] = "missing" if draw < missing else "null" if draw < missing + null else "present"
    shape["location_building_only"] = rng.random() < 0.1
    shape["user_without_phone"] = rng.random() < 0.15
    shape["community_short"] = rng.random() < 0.1
    return shape


def _images(rng: random.Random, day: dt.date) -> list[str]:
    return [f"https://img.wuyejinguanjia.example/mp/{day:%Y/%m/%d}/{rng.getrandbits(48):012x}.jpg"
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]


def build_tickets(seed: int, demands: list[Demand], calendar: Calendar, per_day: float,
                  population: Population, id_block: int = 0) -> list[Ticket]:
    rng = _rng(seed, "tickets")
    mp_communities = [c for c in calendar.communities if CHANNEL_MIX[c.kind][MINIPROGRAM] > 0]
    weights = [c.weight * CHANNEL_MIX[c.kind][MINIPROGRAM] for c in mp_communities]
    total_weight = sum(c.weight for c in calendar.communities)
    share = RATES["mp_non_demand_share"]
    non_demand_rate = per_day * sum(weights) / total_weight * share / (1 - share)
    by_day: dict[dt.date, list] = {day: [] for day in calendar.days}
    for demand in demands:
        if demand.channel == MINIPROGRAM:
            by_day[demand.day].append((demand.at, demand))
    for day in calendar.days:
        for _ in range(_poisson(rng, non_demand_rate * calendar.volume[day])):
            hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
            at = dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)))
            by_day[day].append((at, None))
    tickets = []
    for day in calendar.days:
        items = sorted(by_day[day], key=lambda item: (item[0], item[1].did if item[1] else 0))
        sequence = rng.randint(1, 200)
        for at, demand in items:
            sequence += rng.randint(1, 40)
            ticket_id = f"MP{day:%Y%m%d}{sequence + 100000 * id_block:06d}"
            if demand is None:
                community = rng.choices(mp_communities, weights=weights)[0]
                resident = population.pick(community)
                kind = "bill_payment" if rng.random() < 0.65 else "decoration_application"
                if kind == "bill_payment":
                    item, low, high = rng.choice(BILL_ITEMS)
                    amount = rng.randint(low, high) + rng.choice((0, 0.5, 0.8))
                    title = f"{item}缴费"
                    content = f"缴纳{day.year}年度{item}，金额{amount:,.2f}元"
                else:
                    title = "装修申请"
                    content = f"{resident.home()}申请{rng.choice(DECORATION_ITEMS)}，施工期约{rng.randint(7, 60)}天"
            else:
                community, resident = demand.community, demand.resident
                kind = _mp_demand_type(rng, demand)
                title = demand.issue.kind["title"]
                content = resident_text(rng, demand, short=True) + rng.choice(MP_SUFFIXES)
            events, rating, rated_at = _ticket_events(rng, kind, at)
            images = _images(rng, day) if kind in ("repair", "complaint") else []
            tickets.append(Ticket(ticket_id, kind, community, resident, demand, at, title, content, events, rating,
                                  rated_at, _ticket_shape(rng), images))
    _ensure_shapes(rng, tickets)
    return tickets


def _ensure_shapes(rng: random.Random, tickets: list[Ticket]) -> None:
    """Every missing and null field of the contract occurs at least once, however short the run."""
    multi_day = [t for t in tickets if len({at.date() for at, _, _ in t.events}) > 1]
    for name in ("location", "images", "user", "events", "rating"):
        for form in ("missing", "null") if name != "rating" else ("missing",):
            if any(t.shape[name] == form for t in tickets):
                continue
            candidates = [t for t in multi_day if t.shape[name] == "present"]
            if candidates:
                rng.choice(candidates).shape[name] = form


def ticket_json(ticket: Ticket, events: list, style: str, extra: dict) -> dict:
    """One line of the API pull: the ticket as it stands after `events`."""
    shape = ticket.shape
    resident = ticket.resident
    last_at, status = events[-1][0], events[-1][1]
    record: dict = {
        "ticket_id": ticket.ticket_id, "type": ticket.type,
        "submitted_at": format_mp_time(ticket.submitted, style), "updated_at": format_mp_time(last_at, style),
        "community": ticket.community.short if shape["community_short"] and ticket.community.short
        else ticket.community.name,
        "project_code": ticket.community.project_code,
    }
    if shape["location"] != "missing":
        location = None
        if shape["location"] == "present":
            if resident.building is None:
                location = {"building": None, "unit": None, "room": resident.home()}
            elif shape["location_building_only"]:
                location = {"building": str(resident.building)}
            else:
                location = {"building": str(resident.building), "unit": str(resident.unit), "room": resident.room}
        record["location"] = location
    record["title"] = ticket.title
    record["content"] = ticket.content
    if shape["images"] != "missing":
        record["images"] = ticket.images if shape["images"] == "present" else None
    if shape["user"] != "missing":
        user = None
        if shape["user"] == "present":
            user = {"openid": resident.openid, "nickname": resident.nickname}
            if not shape["user_without_phone"] and not resident.landline:
                user["phone"] = resident.phone
        record["user"] = user
    record["status"] = status
    if shape["events"] != "missing":
        record["events"] = None if shape["events"] == "null" else [
            {"status": s, "at": format_mp_time(at, style), **({"by": by} if by else {})} for at, s, by in events]
    if shape["rating"] != "missing":
        rated = ticket.rating is not None and ticket.rated_at <= last_at
        record["rating"] = ticket.rating[0] if rated else None
        record["rating_comment"] = ticket.rating[1] if rated else None
    record.update(extra)
    return record


# --- reception entries ------------------------------------------------------------------------------------------

@dataclass
class ReceptionEntry:
    demand: Demand
    method: str                  # 接待日 | 敲门 | 巡查
    values: dict                 # the cells except 序号 and 日期


def build_reception_entries(seed: int, demands: list[Demand],
                            communities: tuple[Community, ...] = COMMUNITIES) -> list[ReceptionEntry]:
    rng = _rng(seed, "reception")
    staff = {c.name: [rng.choice(SURNAMES) + "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2))))
                      for _ in range(3)] for c in communities}
    entries = []
    for demand in demands:
        if demand.channel != RECEPTION:
            continue
        community, issue = demand.community, demand.issue
        if demand.day.weekday() == community.reception_weekday and rng.random() < 0.85:
            method = "接待日"
        elif issue.scope == "home" or rng.random() < 0.3:
            method = "敲门"
        else:
            method = "巡查"
        with_person = rng.random() < (0.1 if method == "巡查" else 0.85)
        contact = ""
        if with_person and rng.random() < (0.5 if method == "巡查" else 0.85):
            contact = phone_field(rng, demand.resident, {"plain": 0.85, "spaced": 0.1, "masked": 0.05})
            if contact.isdigit() and rng.random() < 0.3:
                contact = int(contact)  # typed into Excel as a number
        if issue.scope == "home" and issue.reporter.building is not None and rng.random() < 0.25:
            address = f"{issue.reporter.building}-{issue.reporter.unit}-{issue.reporter.room}"
        else:
            address = issue.address
        category = CATEGORIES[demand.category]
        closed = _pick(rng, {"是": 0.68, "否": 0.2, "": 0.12})
        handling = rng.choice(category["handling"]) if closed == "是" else rng.choice(RECEPTION_HANDLING_OPEN)
        entries.append(ReceptionEntry(demand, method, {
            "方式": rng.choice(METHOD_WORDS[method]),
            "接待人员": rng.choice(staff[community.name]) if rng.random() < 0.6 else "、".join(
                rng.sample(staff[community.name], 2)),
            "居民姓名": (demand.resident.name if rng.random() < 0.8 else demand.resident.surname
                     + demand.resident.honorific) if with_person else "",
            "联系方式": contact,
            "住址": address,
            "反映问题": reception_note(rng, demand, method),
            "问题类别": rng.choice(category["labels"]) if rng.random() < 0.7 else "",
            "处理情况": handling if rng.random() < 0.9 else "",
            "是否办结": closed,
            "备注": rng.choice(RECEPTION_REMARKS),
        }))
    return entries


# --- the landing folder -----------------------------------------------------------------------------------------

def landing_time(rng: random.Random, covers: str, *, days_late: int = 0,
                 original: dt.datetime | None = None) -> dt.datetime:
    """When a delivery lands in the landing folder (Beijing time): its file's modification time.

    - A daily file (a 12345 or 400 export, a mini-program pull) covering day D (`covers` "YYYY-MM-DD")
      lands on D+1 between 05:00 and 05:45, when the overnight exports have run.
    - A monthly reception workbook covering month M (`covers` "YYYY-MM") lands on the 2nd or 3rd
      of M+1 at about 17:00 (17:00-17:15), when the community office sends in its month's log.
    - A late delivery lands `days_late` days after that, in the morning or around noon (08:00-14:45
      for a daily file), when someone notices the gap and runs the export again by hand.
    - A re-delivery (a byte-identical copy of the file landed at `original`) lands a bit later:
      20 minutes to 6 hours after the original.

    The minutes are drawn from `rng`, a generator seeded with the seed: the same seed, the same times.
    """
    if original is not None:
        return original + _minutes(rng.uniform(20, 360))
    if len(covers) == len("YYYY-MM"):
        year, month = (int(part) for part in covers.split("-"))
        next_month = dt.date(year + month // 12, month % 12 + 1, 1)
        day = next_month + dt.timedelta(days=rng.choice((1, 2)))
        landed = dt.datetime.combine(day, dt.time(17)) + _minutes(rng.uniform(0, 15))
    else:
        day = dt.date.fromisoformat(covers) + dt.timedelta(days=1)
        landed = dt.datetime.combine(day, dt.time(5)) + _minutes(rng.uniform(0, 45))
    if days_late:
        landed += dt.timedelta(days=days_late) + _minutes(rng.uniform(180, 585))
    return landed


@dataclass
class FileRecord:
    """What was written to one file, for the manifest."""

    path: str
    channel: str
    records: int
    bad: int
    covers: str
    delivered_at: dt.datetime
    late: bool = False
    duplicate_of: str | None = None
    format: dict = field(default_factory=dict)
    bad_kinds: dict = field(default_factory=dict)
    good_keys: list = field(default_factory=list)   # (kind, id, Demand | Ticket | ReceptionEntry) per loadable record

    def manifest_entry(self) -> dict:
        entry = {"channel": self.channel, "records": self.records, "bad": self.bad, "duplicate_of": self.duplicate_of,
                 "covers": self.covers, "delivered_at": _aware(self.delivered_at).isoformat(), "late": self.late,
                 "format": self.format}
        if self.bad_kinds:
            entry["bad_kinds"] = self.bad_kinds
        return entry


class Landing:
    def __init__(self, out: Path):
        self.out = out
        self.files: list[FileRecord] = []
        self.data: dict[str, bytes] = {}

    def add(self, record: FileRecord, data: bytes) -> None:
        self.files.append(record)
        self.data[record.path] = data

    def move_into(self, folder: str) -> None:
        """Every file into `folder` under its channel's folder (hotline/x.csv -> hotline/<folder>/x.csv)."""
        def moved(path: str) -> str:
            channel, rest = path.split("/", 1)
            return f"{channel}/{folder}/{rest}"

        for record in self.files:
            self.data[moved(record.path)] = self.data.pop(record.path)
            record.path = moved(record.path)
            if record.duplicate_of:
                record.duplicate_of = moved(record.duplicate_of)

    def write(self) -> None:
        for record in self.files:
            path = self.out / record.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.data[record.path])
            stamp = _aware(record.delivered_at).timestamp()
            os.utime(path, (stamp, stamp))


def write_hotline(seed: int, landing: Landing, orders: list[WorkOrder], days: list[dt.date]) -> None:
    rng = _rng(seed, "hotline-files")
    by_day: dict[tuple[str, dt.date], list[WorkOrder]] = {
        (line, d): [] for line in (LINE_12345, LINE_400) for d in days}
    first, last = days[0], days[-1]
    for order in orders:
        seen: list[dt.date] = []
        for at, _, _ in order.events:
            day = at.date()
            if first <= day <= last and day not in seen:
                seen.append(day)
                by_day[(order.line, day)].append(order)
    keys = list(by_day)
    used_ids = {order.order_id: True for order in orders}
    encodings = [_pick(rng, RATES["hotline_encoding" if line == LINE_12345 else "hotline_encoding_400"])
                 for line, _ in keys]
    styles = [_pick(rng, RATES["hotline_date_style"]) for _ in keys]
    shuffled = [rng.random() < RATES["hotline_shuffled_columns"] for _ in keys]
    extra = [rng.random() < RATES["hotline_extra_column"] for _ in keys]
    second_style = [rng.random() < RATES["hotline_second_received_style"] for _ in keys]
    missing_id = [rng.random() < RATES["hotline_missing_id"] for _ in keys]
    impossible = [rng.random() < RATES["hotline_impossible_date"] for _ in keys]
    _ensure_each(rng, encodings, ("utf-8", "utf-8-sig", "gb18030"))
    _ensure_each(rng, styles, ("iso", "slash", "chinese", "excel"))
    _ensure_some(rng, shuffled)
    _ensure_some(rng, extra)
    with_rows = [i for i, key in enumerate(keys) if by_day[key]]
    _ensure_some(rng, missing_id, with_rows)
    _ensure_some(rng, impossible, with_rows)
    for i, (line, day) in enumerate(keys):
        columns = list(HOTLINE_COLUMNS if line == LINE_12345 else HOTLINE_400_COLUMNS)
        if shuffled[i]:
            rng.shuffle(columns)
        extra_columns = []
        if extra[i]:
            extra_columns = rng.sample(HOTLINE_EXTRA_COLUMNS, rng.choice((1, 1, 2)))
            for name in extra_columns:
                columns.insert(rng.randint(0, len(columns)), name)
        received_style = styles[i]
        if second_style[i]:
            received_style = rng.choice([s for s in ("iso", "slash", "chinese", "excel") if s != styles[i]])
        cutoff = _end_of(day)
        rows, good = [], []
        for order in sorted(by_day[(line, day)], key=lambda o: (o.demand.at, o.order_id)):
            state, updated = order.state_at(cutoff)
            row = _hotline_row(order, state, updated, styles[i], received_style)
            rows.append(row)
            good.append(("work_order", order.order_id, order.demand))
        bad_kinds: dict[str, int] = {}
        if rows and missing_id[i]:
            row = dict(rng.choice(rows))
            row["工单编号"] = ""
            rows.insert(rng.randint(0, len(rows)), row)
            bad_kinds["missing_id"] = 1
        if rows and impossible[i]:
            template = rng.choice([r for r in rows if r["工单编号"]])
            row = dict(template)
            demand_at = next(o.demand.at for o in by_day[(line, day)] if o.order_id == template["工单编号"])
            row["工单编号"] = _unused_id(rng, line, day, used_ids)
            row["来电时间"] = _impossible_time(rng, demand_at, received_style)
            rows.insert(rng.randint(0, len(rows)), row)
            bad_kinds["impossible_date"] = 1
        for row in rows:
            row["区县"] = DISTRICT
            row["回访记录"] = "已回访" if row.get("满意度") not in ("", None, "未回访") else ""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
        data = buffer.getvalue().encode(encodings[i])
        delivered = landing_time(rng, day.isoformat())
        landing.add(FileRecord(
            path=f"hotline/{line}_{day:%Y%m%d}.csv", channel="hotline", records=len(rows), bad=sum(bad_kinds.values()),
            covers=day.isoformat(), delivered_at=delivered, bad_kinds=bad_kinds, good_keys=good,
            format={"encoding": encodings[i], "date_style": styles[i], "received_style": received_style,
                    "columns_shuffled": shuffled[i], "extra_columns": extra_columns},
        ), data)


def _unused_id(rng: random.Random, line: str, day: dt.date, used: dict[str, bool]) -> str:
    """A well-formed id that no real work order has: the bad row must not pass for one."""
    while True:
        order_id = (f"GD{day:%Y%m%d}{rng.randrange(10**5):05d}" if line == LINE_12345
                    else f"400-{day:%Y%m%d}-{rng.randint(5000, 9999)}")
        if order_id not in used:
            used[order_id] = True
            return order_id


def _hotline_row(order: WorkOrder, state: dict, updated: dt.datetime, style: str, received_style: str) -> dict:
    row = {"工单编号": order.order_id, "来源": order.line, **order.display}
    row["来电时间"] = format_hotline_time(order.demand.at, received_style)
    for column in ("派单时间", "签收时间", "首次联系时间", "办结时间"):
        value = state.get(column)
        row[column] = format_hotline_time(value, style) if value and column not in order.omit else ""
    row["承办单位"] = state.get("承办单位") or ""
    row["办理状态"] = state["办理状态"]
    row["是否解决"] = state.get("是否解决", "")
    row["满意度"] = state.get("满意度", "")
    row["更新时间"] = format_hotline_time(updated, style)
    return row


NOT_JSON_LINES = [
    "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>",
    "ERROR 504 upstream request timeout, retry later",
    "{'ticket_id': 'MP{day}{n}', 'type': 'repair', 'status': 'submitted', 'rating': None}",
    '{"ticket_id": "MP{day}{n}", "type": "repair" "status": "submitted"}',
]


def write_miniprogram(seed: int, landing: Landing, tickets: list[Ticket], days: list[dt.date]) -> None:
    rng = _rng(seed, "miniprogram-files")
    first, last = days[0], days[-1]
    by_day: dict[dt.date, list[Ticket]] = {d: [] for d in days}
    for ticket in tickets:
        seen: list[dt.date] = []
        for at, _, _ in ticket.events:
            if first <= at.date() <= last and at.date() not in seen:
                seen.append(at.date())
                by_day[at.date()].append(ticket)
    active = [d for d in days if by_day[d]]
    schema_change = active[len(active) * 2 // 3] if len(active) >= 4 else None
    not_json = [rng.random() < RATES["mp_not_json"] for _ in active]
    cut = [rng.random() < RATES["mp_cut_last_line"] for _ in active]
    _ensure_some(rng, not_json)
    _ensure_some(rng, cut, [i for i, d in enumerate(active) if len(by_day[d]) >= 2])
    for i, day in enumerate(active):
        cutoff = _end_of(day)
        versions = []
        for ticket in by_day[day]:
            events = ticket.state_at(cutoff)
            versions.append((events[-1][0], ticket.ticket_id, ticket, events))
        versions.sort(key=lambda v: (v[0], v[1]))
        lines, good = [], []
        styles = Counter()
        for _, _, ticket, events in versions:
            style = _pick(rng, RATES["mp_time"])
            styles[style] += 1
            extra = {}
            if schema_change and day >= schema_change:
                extra["app_version"] = "3.4.1"
            if rng.random() < RATES["mp_one_off_field"]:
                extra["urgent"] = rng.random() < 0.5
            record = ticket_json(ticket, events, style, extra)
            lines.append(json.dumps(record, ensure_ascii=False, separators=(", ", ": ")))
            good.append(("ticket", ticket.ticket_id, ticket))
        bad_kinds: dict[str, int] = {}
        if cut[i] and len(lines) >= 2:
            text = lines[-1]
            lines[-1] = text[: rng.randint(len(text) * 2 // 5, len(text) * 4 // 5)]
            good.pop()
            bad_kinds["cut_last_line"] = 1
        if not_json[i]:
            junk = rng.choice(NOT_JSON_LINES).replace("{day}", f"{day:%Y%m%d}").replace(
                "{n}", f"{rng.randint(900000, 999999)}")
            position = rng.randint(0, len(lines) - 1 if bad_kinds else len(lines))
            lines.insert(position, junk)
            bad_kinds["not_json"] = 1
        text = "\n".join(lines) + ("" if "cut_last_line" in bad_kinds else "\n")
        delivered = landing_time(rng, day.isoformat())
        landing.add(FileRecord(
            path=f"miniprogram/tickets_{day:%Y%m%d}.jsonl", channel="miniprogram", records=len(lines),
            bad=sum(bad_kinds.values()), covers=day.isoformat(), delivered_at=delivered, bad_kinds=bad_kinds,
            good_keys=good, format={"time_styles": dict(sorted(styles.items())),
                                    "new_field": bool(schema_change and day >= schema_change)},
        ), text.encode("utf-8"))


def _reception_date(day: dt.date, style: str):
    if style == "excel":
        return day
    if style == "month_day":
        return f"{day.month}月{day.day}日"
    if style == "dotted":
        return f"{day.year}.{day.month}.{day.day}"
    return day.isoformat()


DATE_FORMATS = ["yyyy/m/d", 'm"月"d"日"', "yyyy-mm-dd", 'yyyy"年"m"月"d"日"']


def write_reception(seed: int, landing: Landing, entries: list[ReceptionEntry], days: list[dt.date],
                    communities: tuple[Community, ...] = COMMUNITIES) -> None:
    rng = _rng(seed, "reception-files")
    books: dict[tuple[str, int, int], list[ReceptionEntry]] = {}
    for entry in entries:
        key = (entry.demand.community.name, entry.demand.day.year, entry.demand.day.month)
        books.setdefault(key, []).append(entry)
    keys = sorted(books, key=lambda k: (k[1], k[2], [c.name for c in communities].index(k[0])))
    as_csv = [rng.random() < RATES["reception_csv"] for _ in keys]
    bad = [rng.random() < RATES["reception_bad_row"] for _ in keys]
    styles = [_pick(rng, RATES["reception_date_style"]) for _ in keys]
    if len(keys) >= 4:
        _ensure_some(rng, as_csv)
    _ensure_some(rng, bad)
    _ensure_each(rng, styles, ("excel", "month_day", "dotted", "dashed"))
    for i, (name, year, month) in enumerate(keys):
        community = next(c for c in communities if c.name == name)
        book = sorted(books[(name, year, month)], key=lambda e: (e.demand.at, e.demand.did))
        delivered = landing_time(rng, f"{year}-{month:02d}")
        stem = f"reception/reception_{name}_{year}{month:02d}"
        title = f"{name}民意接待日登记表（{year}年{month}月）"
        bad_row = _bad_reception_values(rng, book) if bad[i] else None
        if as_csv[i]:
            data, counts = _reception_csv(rng, book, title, styles[i], bad_row)
            path, fmt = f"{stem}.csv", {"file": "csv", "encoding": counts.pop("encoding")}
        else:
            data, counts = _reception_xlsx(rng, book, title, styles[i], bad_row, community, delivered)
            path, fmt = f"{stem}.xlsx", {"file": "xlsx", "sheets": counts.pop("sheets")}
        fmt.update(date_style=styles[i], **counts.pop("format"))
        landing.add(FileRecord(
            path=path, channel="reception", records=len(book) + (1 if bad_row else 0), bad=1 if bad_row else 0,
            covers=f"{year}-{month:02d}", delivered_at=delivered,
            bad_kinds={"no_issue_text": 1} if bad_row else {},
            good_keys=[("reception_entry", f"{path}#{n}", e) for n, e in enumerate(book, start=1)], format=fmt,
        ), data)


def _bad_reception_values(rng: random.Random, book: list[ReceptionEntry]) -> tuple[dt.date, dict]:
    template = rng.choice(book)
    values = dict(template.values)
    values["反映问题"] = ""
    values["问题类别"] = ""
    values["处理情况"] = rng.choice(("已答复", "已登记", "现场解答"))
    return template.demand.day, values


def _entry_cells(serial, date_value, values: dict) -> list:
    return [serial, date_value] + [values.get(column, "") for column in RECEPTION_HEADER[2:]]


def _reception_rows(rng: random.Random, book: list[ReceptionEntry], style: str, bad_row):
    """The table body: (cells, kind, group) per row; kind is entry | bad | blank | total."""
    groups: list[list] = []
    for entry in book:
        if groups and groups[-1][0][0] == entry.demand.day:
            groups[-1].append((entry.demand.day, entry.values))
        else:
            groups.append([(entry.demand.day, entry.values)])
    if bad_row:
        groups.insert(rng.randint(0, len(groups)), [(bad_row[0], bad_row[1], "bad")])
    rows = []
    serial = 0
    for g, group in enumerate(groups):
        if g and rng.random() < RATES["reception_spacer_row"]:
            rows.append(([None] * len(RECEPTION_HEADER), "blank", None))
        for item in group:
            day, values = item[0], item[1]
            serial += 1
            row_style = style
            if rng.random() < RATES["reception_other_date_style"]:
                row_style = rng.choice(("excel", "month_day", "dotted", "dashed"))
            kind = "bad" if len(item) > 2 else "entry"
            rows.append((_entry_cells(serial, _reception_date(day, row_style), values), kind, g))
    return rows, serial


def _total_row(count: int) -> list:
    cells = [None] * len(RECEPTION_HEADER)
    cells[0] = "合计"
    cells[RECEPTION_HEADER.index("反映问题")] = f"共{count}件"
    return cells


def _reception_csv(rng, book, title, style, bad_row) -> tuple[bytes, dict]:
    rows, count = _reception_rows(rng, book, "dashed" if style == "excel" else style, bad_row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with_title = rng.random() < RATES["reception_title"]
    if with_title:
        writer.writerow([title] + [""] * (len(RECEPTION_HEADER) - 1))
    writer.writerow(RECEPTION_HEADER)
    for cells, _, _ in rows:
        writer.writerow(["" if c is None else c for c in cells])
    with_total = rng.random() < RATES["reception_total_row"]
    if with_total:
        writer.writerow(["" if c is None else c for c in _total_row(count)])
    encoding = rng.choice(("utf-8-sig", "gb18030"))
    return buffer.getvalue().encode(encoding), {
        "encoding": encoding, "format": {"title_row": with_title, "total_row": with_total,
                                         "blank_rows": sum(1 for r in rows if r[1] == "blank")}}


def _reception_xlsx(rng, book, title, style, bad_row, community: Community,
                    delivered: dt.datetime) -> tuple[bytes, dict]:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    split = rng.random() < RATES["reception_two_sheets"] and len(book) >= 4
    if split:
        visits = [e for e in book if e.method == "接待日"]
        rounds = [e for e in book if e.method != "接待日"]
        sheets = [("接待日", visits, title)] if visits else []
        sheets.append(("敲门巡查", rounds, title.replace("民意接待日", "敲门巡查")))
        if not visits or not rounds:
            sheets = [("登记表", book, title)]
    else:
        sheets = [(rng.choice(("Sheet1", "登记表", f"{book[0].demand.day.month}月")), book, title)]
    bad_sheet = rng.randrange(len(sheets))
    fmt = Counter()
    for s, (sheet_title, sheet_entries, sheet_heading) in enumerate(sheets):
        sheet = workbook.create_sheet(sheet_title)
        rows, count = _reception_rows(rng, sheet_entries, style, bad_row if s == bad_sheet else None)
        r = 1
        if rng.random() < RATES["reception_title"]:
            sheet.cell(r, 1, sheet_heading).font = Font(bold=True, size=14)
            sheet.cell(r, 1).alignment = Alignment(horizontal="center")
            sheet.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(RECEPTION_HEADER))
            fmt["title_rows"] += 1
            r += 1
            if rng.random() < 0.2:
                sheet.cell(r, 1, f"填报单位：{community.committee}")
                sheet.cell(r, 8, f"填报日期：{delivered.year}年{delivered.month}月{delivered.day}日")
                r += 1
        for c, name in enumerate(RECEPTION_HEADER, start=1):
            sheet.cell(r, c, name).font = Font(bold=True)
        r += 1
        first_body = r
        for cells, _, _ in rows:
            for c, value in enumerate(cells, start=1):
                if value not in (None, ""):
                    cell = sheet.cell(r, c, value)
                    if isinstance(value, dt.date):
                        cell.number_format = rng.choice(DATE_FORMATS)
            r += 1
        fmt["merged_ranges"] += _merge_groups(rng, sheet, rows, first_body)
        fmt["blank_rows"] += sum(1 for row in rows if row[1] == "blank")
        if rng.random() < RATES["reception_total_row"]:
            if rng.random() < 0.3:
                r += 1  # a blank row before the total
                fmt["blank_rows"] += 1
            for c, value in enumerate(_total_row(count), start=1):
                if value is not None:
                    sheet.cell(r, c, value)
            fmt["total_rows"] += 1
        for c, width in enumerate((6, 12, 10, 10, 10, 14, 18, 40, 10, 20, 8, 12), start=1):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(c)].width = width
    if rng.random() < RATES["reception_empty_sheet"]:
        workbook.create_sheet(rng.choice(("Sheet2", "Sheet3", "说明")))
        fmt["empty_sheets"] += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _fixed_zip(buffer.getvalue(), delivered), {"sheets": len(workbook.worksheets), "format": dict(fmt)}


def _merge_groups(rng: random.Random, sheet, rows: list, first_body: int) -> int:
    """Merge 日期 (and sometimes 方式 and 接待人员) over the rows of one day, as staff do."""
    merged = 0
    position = 0
    while position < len(rows):
        group = rows[position][2]
        end = position
        while end + 1 < len(rows) and rows[end + 1][2] == group and rows[end + 1][1] == "entry":
            end += 1
        if group is not None and rows[position][1] == "entry" and end > position \
                and rng.random() < RATES["reception_merge_dates"]:
            top, bottom = first_body + position, first_body + end
            columns = [2]
            if rng.random() < 0.4 and len({rows[k][0][2] for k in range(position, end + 1)}) == 1:
                columns.append(3)
            if rng.random() < 0.3 and len({rows[k][0][3] for k in range(position, end + 1)}) == 1:
                columns.append(4)
            for column in columns:
                for k in range(top + 1, bottom + 1):
                    sheet.cell(k, column).value = None
                sheet.merge_cells(start_row=top, start_column=column, end_row=bottom, end_column=column)
                merged += 1
        position = end + 1
    return merged


def _fixed_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """Rewrite an xlsx with fixed timestamps (openpyxl writes the current time in two places)."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + iso + rb"\g<3>",
                                 content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(stamp.year, stamp.month, stamp.day, stamp.hour,
                                                              stamp.minute, stamp.second))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, content)
    return out.getvalue()


# --- delivery mess ----------------------------------------------------------------------------------------------

REDELIVERY_SUFFIX = {"hotline": "_resend", "miniprogram": "_retry", "reception": "_副本"}


def deliver_mess(seed: int, landing: Landing) -> None:
    """Byte-identical re-deliveries under another name, and late deliveries of daily files.

    A copy's name sorts after its original's (`x_resend.csv` after `x.csv`), so a loader that walks
    the folder in name order meets the original first.
    """
    rng = _rng(seed, "delivery")
    originals = list(landing.files)
    copy = [rng.random() < RATES["redelivery"] for _ in originals]
    _ensure_some(rng, copy, [i for i, f in enumerate(originals) if f.records])
    daily = [i for i, f in enumerate(originals) if f.channel != "reception"]
    late = [rng.random() < RATES["late"] for _ in originals]
    _ensure_some(rng, late, [i for i in daily if originals[i].channel == "hotline"])
    for i, record in enumerate(originals):
        if late[i] and i in daily:
            record.late = True
            record.delivered_at = landing_time(rng, record.covers, days_late=rng.randint(2, 5))
        if copy[i]:
            stem, suffix = record.path.rsplit(".", 1)
            duplicate = FileRecord(
                path=f"{stem}{REDELIVERY_SUFFIX[record.channel]}.{suffix}", channel=record.channel,
                records=record.records, bad=record.bad, covers=record.covers,
                delivered_at=landing_time(rng, record.covers, original=record.delivered_at), duplicate_of=record.path,
                format=record.format, bad_kinds=record.bad_kinds)
            landing.add(duplicate, landing.data[record.path])
    landing.files.sort(key=lambda f: f.path)


# --- the manifest -----------------------------------------------------------------------------------------------

def _loadable(landing: Landing) -> tuple[dict[str, Demand], dict[str, Ticket], dict[str, ReceptionEntry]]:
    """The work orders, tickets and reception entries of the loadable records of the original files."""
    work_orders: dict[str, Demand] = {}
    tickets: dict[str, Ticket] = {}
    entries: dict[str, ReceptionEntry] = {}
    for record in landing.files:
        if record.duplicate_of is not None:
            continue
        for kind, key, item in record.good_keys:
            if kind == "work_order":
                work_orders.setdefault(key, item)
            elif kind == "ticket":
                tickets.setdefault(key, item)
            else:
                entries[key] = item
    return work_orders, tickets, entries


def build_manifest(landing: Landing, *, days: list[dt.date], seed: int, per_day: float) -> dict:
    files = {f.path: f.manifest_entry() for f in landing.files}
    originals = [f for f in landing.files if f.duplicate_of is None]
    work_orders, tickets, entries = _loadable(landing)
    demand_tickets = {k: t.demand for k, t in tickets.items() if t.demand is not None}
    demands = list(work_orders.values()) + list(demand_tickets.values()) + [e.demand for e in entries.values()]
    categories = Counter(d.category for d in demands)
    daily: dict[str, dict] = {}
    for day in days:
        daily[day.isoformat()] = {"demands": 0, "categories": {}}
    for demand in sorted(demands, key=lambda d: d.did):
        slot = daily[demand.day.isoformat()]
        slot["demands"] += 1
        slot["categories"][demand.category] = slot["categories"].get(demand.category, 0) + 1
    for slot in daily.values():
        slot["categories"] = {c: slot["categories"][c] for c in CATEGORY_CODES if c in slot["categories"]}

    def totals_of(records: list[FileRecord]) -> dict:
        return {"files": len(records), "records": sum(f.records for f in records), "bad": sum(f.bad for f in records),
                "loadable": sum(f.records - f.bad for f in records)}

    by_channel = {channel: totals_of([f for f in originals if f.channel == channel])
                  for channel in CHANNELS}
    duplicates = [f for f in landing.files if f.duplicate_of]
    all_totals = totals_of(landing.files)
    totals = {
        "files": all_totals["files"], "records": all_totals["records"], "bad": all_totals["bad"],
        "loadable": all_totals["loadable"], "duplicate_files": len(duplicates),
        "late_files": sum(1 for f in landing.files if f.late),
        "records_without_duplicates": sum(f.records for f in originals),
        "bad_without_duplicates": sum(f.bad for f in originals),
        "by_channel": by_channel,
    }
    line_counts = Counter(("400" if key.startswith("400-") else "12345") for key in work_orders)
    ticket_types = Counter(t.type for t in tickets.values())
    return {
        "generator": "minqing.devtools.generate",
        "parameters": {"days": len(days), "seed": seed, "per_day": per_day, "start": days[0].isoformat(),
                       "end": days[-1].isoformat()},
        "files": files,
        "totals": totals,
        "distinct": {
            "work_orders": len(work_orders), "work_orders_12345": line_counts["12345"],
            "work_orders_400": line_counts["400"], "tickets": len(tickets), "demand_tickets": len(demand_tickets),
            "ticket_types": {t: ticket_types[t] for t in ("repair", "complaint", "bill_payment",
                                                          "decoration_application")},
            "reception_entries": len(entries), "resident_demands": len(demands),
            "repeat_demands": sum(1 for d in demands if d.repeat == "again"),
            "same_address_demands": sum(1 for d in demands if d.repeat == "neighbour"),
            "problems": len({d.issue.iid for d in demands}),
            "near_miss_issues": len({d.issue.iid for d in demands if d.issue.near_miss_of is not None}),
        },
        "categories": {c: categories[c] for c in CATEGORY_CODES},
        "daily": daily,
        "notes": [
            "records: records the file holds (blank and 合计 rows are not records; a cut-off last line is one)",
            "bad: records a reader must quarantine; a duplicate file repeats its original's numbers",
            "distinct, categories, daily: over the loadable records of the original files; one resident demand per "
            "work order, per repair/complaint ticket and per reception entry (repeat calls count each time)",
            f"{PROBLEMS_NAME}: those resident demands, one row each, with the problem (issue) each reports",
        ],
    }


# --- the ground truth of problems ---------------------------------------------------------------------------

PROBLEM_COLUMNS = ("channel", "record_key", "problem", "received_at", "community", "category", "building", "repeat",
                   "near_miss_of", "near_miss")


def problems_csv(landing: Landing) -> bytes:
    """The truth file (PROBLEMS_NAME): one row per resident demand of the manifest (a loadable record of
    an original file), in the order they came in, with the problem (the issue's iid) it reports.

    record_key: the work order's 工单编号, the ticket_id, or a reception entry's date and 反映问题
    cell as written ("2026-07-03|居民反映..."); received_at: Beijing time, ISO, no zone; building: the
    issue's building number (its bld slot); repeat: again | neighbour | empty; near_miss_of: the
    problem this one was made to look like, near_miss: same_building | same_text (empty otherwise)."""
    work_orders, tickets, entries = _loadable(landing)
    records = [("hotline", key, demand) for key, demand in work_orders.items()]
    records += [("miniprogram", key, t.demand) for key, t in tickets.items() if t.demand is not None]
    records += [("reception", f"{e.demand.day.isoformat()}|{e.values['反映问题']}", e.demand)
                for e in entries.values()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PROBLEM_COLUMNS)
    for channel, key, demand in sorted(records, key=lambda r: (r[2].did, r[0], r[1])):
        issue = demand.issue
        writer.writerow([channel, key, issue.iid, demand.at.isoformat(), demand.community.name, issue.category,
                         issue.slots.get("bld") or "", demand.repeat or "",
                         "" if issue.near_miss_of is None else issue.near_miss_of, issue.near_miss or ""])
    return buffer.getvalue().encode("utf-8")


# --- entry point ------------------------------------------------------------------------------------------------

def _remove_previous(out: Path, manifest_name: str = MANIFEST_NAME, problems_name: str = PROBLEMS_NAME) -> None:
    """Delete the truth file and the files a previous run listed in its manifest (and only those)."""
    (out / problems_name).unlink(missing_ok=True)
    manifest = out / manifest_name
    if not manifest.is_file():
        return
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (ValueError, OSError):
        return
    for relative in previous:
        path = out / relative
        if relative.split("/", 1)[0] in CHANNELS and path.is_file():
            path.unlink()


DEFAULT_START = dt.date(2026, 7, 1)  # the first generated day unless told (`minqing generate`, `minqing demo`)


def generate(out: Path, days: int, seed: int = 7, per_day: float = 40, start: dt.date = DEFAULT_START,
             effects: tuple[Effect, ...] = (), street: Street = LIULIQIAO) -> dict:
    """Write a synthetic landing folder for `days` days from `start` and return its manifest.

    `per_day` is the mean number of new resident demands per day over all channels; `effects`: the
    interventions' effects injected (the manifest's `parameters.effects`); `street`: whose communities
    (another street's files land in its `folder` under each channel's, its manifest and truth file named
    after it: minqing/devtools/district.py). The same arguments always give the same bytes. Files a
    previous run listed in the manifest are removed first; other files under `out` are left alone.
    """
    if isinstance(start, str):
        start = dt.date.fromisoformat(start)
    if days < 1:
        raise ValueError("days must be at least 1")
    if per_day < 0:
        raise ValueError("per_day must not be negative")
    out = Path(out)
    calendar = Calendar(_rng(seed, "weather"), start, days, street.communities)
    population = Population(_rng(seed, "residents"), street.communities)
    demands = simulate(seed, calendar, per_day, population, tuple(effects))
    orders = build_work_orders(seed, demands, street.id_block)
    tickets = build_tickets(seed, demands, calendar, per_day, population, street.id_block)
    entries = build_reception_entries(seed, demands, street.communities)

    landing = Landing(out)
    write_hotline(seed, landing, orders, calendar.days)
    write_miniprogram(seed, landing, tickets, calendar.days)
    write_reception(seed, landing, entries, calendar.days, street.communities)
    deliver_mess(seed, landing)
    if street.folder:
        landing.move_into(street.folder)
    manifest = build_manifest(landing, days=calendar.days, seed=seed, per_day=per_day)
    if effects:
        manifest["parameters"]["effects"] = [
            {"community": e.community, "start": e.start.isoformat(), "size": e.size, "categories": list(e.categories),
             "end": e.end.isoformat() if e.end else None} for e in effects]
    problems = problems_csv(landing)

    out.mkdir(parents=True, exist_ok=True)
    manifest_name, problems_name = MANIFEST_NAME, PROBLEMS_NAME
    if street.folder:  # .generate_manifest.<folder>.json beside the street's of a single-street landing
        manifest_name, problems_name = (name.replace(".generate_", f".generate_{street.folder}_")
                                        for name in (MANIFEST_NAME, PROBLEMS_NAME))
    _remove_previous(out, manifest_name, problems_name)
    landing.write()
    (out / problems_name).write_bytes(problems)
    (out / manifest_name).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


# --- the classifier's own labelled texts ---------------------------------------------------------------------

def training_texts(seed: int = 7) -> list[tuple[str, str]]:
    """(category_code, text) for every resident text and staff note of the phrase tables, each once,
    as a subject (the kind's title) and a body, their slots filled by a seeded draw: the project's own
    labelled texts for `minqing classifier train` (minqing/analytics/classifier_data/project_texts.tsv). They cover
    what real message boards of a southern city lack (heating, waterlogging, drainage, elderly care)."""
    rng = _rng(seed, "training_texts")
    rows = []
    for code in CATEGORY_CODES:
        for kind in CATEGORIES[code]["kinds"]:
            for template in [*kind["texts"], kind["note"]]:
                slots = {"community": "望园社区", "bld": rng.randint(1, 20), "bld2": rng.randint(1, 20),
                         "unit": rng.randint(1, 6), "room": f"{rng.randint(1, 6)}0{rng.randint(1, 4)}",
                         "floor": rng.randint(1, 6), "upstairs": f"{rng.randint(2, 6)}0{rng.randint(1, 4)}",
                         "place": rng.choice(PLACES_ESTATE).format(bld=rng.randint(1, 20), bld2=rng.randint(1, 20)),
                         "room_part": rng.choice(ROOM_PARTS), "temp": rng.randint(12, 17),
                         "hour": rng.choice((11, 12, "十一", "十二", 1)), "depth": rng.choice(DEPTHS),
                         "staff": rng.choice(("王书记", "李主任", "小张")), "times": rng.randint(2, 4),
                         "duration": rng.choice(DURATIONS)}
                rows.append((code, f"{kind['title']}。 {_fill(template, slots)}"))
    return rows


def write_training_texts(path: Path, seed: int = 7) -> int:
    """Write `training_texts` as a tab-separated file with the columns category, source, text."""
    rows = training_texts(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("category\tsource\ttext\n")
        for code, text in rows:
            fh.write(f"{code}\tgenerator_phrase_tables\t{' '.join(text.split())}\n")
    return len(rows)
