"""The synthetic landing folder (`minqing.devtools.generate`): deterministic, shaped like the source contract
with all its quirks, seasonal, and described by a manifest whose counts a reader can rely on.

The files are re-read here with csv, json and openpyxl only, independently of the generator and of
the ingestion readers; no database is needed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import openpyxl
import pytest

from minqing.devtools.generate import MANIFEST_NAME, PROBLEMS_NAME, generate

CATEGORY_CODES = {
    "housing_leak", "drainage", "waterlogging", "road_facilities", "heating", "utilities", "property_service",
    "sanitation", "noise", "neighbor_dispute", "elderly_care", "parking_traffic", "livelihood", "safety_hazard",
    "other",
}
COMMUNITIES = ["望园社区", "金二社区", "丰台路口社区", "莲怡园社区", "保利益丰社区", "西局玉园社区", "八一厂社区", "六南社区",
               "六北社区", "京铁家园社区", "六里桥村", "小井村", "靛厂村"]
RECEPTION_HEADER = ["序号", "日期", "方式", "接待人员", "居民姓名", "联系方式", "住址", "反映问题", "问题类别", "处理情况",
                    "是否办结", "备注"]
HOTLINE_STATUSES = {"待派单", "已派单", "已签收", "办理中", "延期办理", "已退单", "已办结"}


# --- independent readers ----------------------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def parse_time(text: str) -> tuple[dt.datetime, str]:
    """The hotline's four time forms; ValueError for anything else, including impossible dates."""
    text = text.strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return dt.datetime(1899, 12, 30) + dt.timedelta(days=float(text)), "excel"
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})", text):
        return dt.datetime(*map(int, m.groups())), "iso"
    if m := re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2}) (\d{1,2}):(\d{2})", text):
        return dt.datetime(*map(int, m.groups())), "slash"
    if m := re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日 (\d{2}):(\d{2})", text):
        return dt.datetime(*map(int, m.groups())), "chinese"
    raise ValueError(f"not a hotline time: {text!r}")


def read_hotline(data: bytes) -> dict:
    text, encoding = decode(data)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    good, bad = [], 0
    for row in rows:
        try:
            received, _ = parse_time(row["来电时间"])
        except ValueError:
            bad += 1
            continue
        if not row["工单编号"].strip():
            bad += 1
            continue
        good.append(dict(row, _received=received, _updated=parse_time(row["更新时间"])[0]))
    header = next(csv.reader(io.StringIO(text, newline="")))
    return {"records": len(rows), "bad": bad, "good": good, "encoding": encoding, "header": header, "text": text}


def read_miniprogram(data: bytes) -> dict:
    text = data.decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    good, bad = [], 0
    for line in lines:
        try:
            ticket = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        assert isinstance(ticket, dict)
        good.append(ticket)
    return {"records": len(lines), "bad": bad, "good": good, "ends_with_newline": text.endswith("\n")}


def _table_rows(rows: list[list]) -> tuple[int, int, list[list]]:
    """(records, bad, good rows) of one sheet: the rows under the header, minus blank and 合计 rows."""
    start = next(i for i, cells in enumerate(rows) if "日期" in cells and "反映问题" in cells)
    issue = rows[start].index("反映问题")
    records, bad, good = 0, 0, []
    for cells in rows[start + 1:]:
        texts = ["" if c is None else str(c).strip() for c in cells]
        if not any(texts) or any(t.startswith("合计") for t in texts):
            continue
        records += 1
        if texts[issue]:
            good.append(list(cells))
        else:
            bad += 1
    return records, bad, good


def read_reception(data: bytes, name: str) -> dict:
    result = {"records": 0, "bad": 0, "good": [], "sheets": 0, "merged": 0, "title": False, "total": False,
              "blank": False}
    if name.endswith(".csv"):
        text, result["encoding"] = decode(data)
        tables = [list(csv.reader(io.StringIO(text, newline="")))]
    else:
        workbook = openpyxl.load_workbook(io.BytesIO(data))
        tables = []
        for sheet in workbook.worksheets:
            rows = [list(r) for r in sheet.iter_rows(values_only=True)]
            if not any(c not in (None, "") for r in rows for c in r):
                continue
            result["merged"] += sum(1 for m in sheet.merged_cells.ranges if m.min_row > 1)
            tables.append(rows)
        result["sheets"] = len(tables)
    for rows in tables:
        records, bad, good = _table_rows(rows)
        result["records"] += records
        result["bad"] += bad
        result["good"] += good
        result["title"] |= "登记表" in str(rows[0][0])
        result["total"] |= any(str(r[0]).startswith("合计") for r in rows if r)
        result["blank"] |= any(all(c in (None, "") for c in r) for r in rows)
    return result


def read_file(out: Path, relative: str, channel: str) -> dict:
    data = (out / relative).read_bytes()
    if channel == "hotline":
        return read_hotline(data)
    if channel == "miniprogram":
        return read_miniprogram(data)
    return read_reception(data, relative)


def read_problems(out: Path) -> list[dict]:
    """The truth file: one dict per row, by its header."""
    text = (out / PROBLEMS_NAME).read_bytes().decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def reception_day(value, year: int) -> dt.date:
    """A reception row's 日期 in any of its forms (月日 forms take the workbook's year)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if m := re.fullmatch(r"(\d{1,2})月(\d{1,2})日", str(value).strip()):
        return dt.date(year, int(m.group(1)), int(m.group(2)))
    m = re.fullmatch(r"(\d{4})[.-](\d{1,2})[.-](\d{1,2})", str(value).strip())
    return dt.date(*map(int, m.groups()))


def tree(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


# --- fixtures ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month") / "landing"
    manifest = generate(out, days=30)
    parsed = {path: read_file(out, path, entry["channel"]) for path, entry in manifest["files"].items()}
    return out, manifest, parsed


@pytest.fixture(scope="module")
def two_months(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_months") / "landing"
    return out, generate(out, days=60)


@pytest.fixture(scope="module")
def summer(tmp_path_factory):
    out = tmp_path_factory.mktemp("summer") / "landing"
    return out, generate(out, days=75, start=dt.date(2026, 6, 1))


# --- determinism -------------------------------------------------------------------------------------------

def test_same_arguments_same_bytes_another_seed_differs(tmp_path):
    first = generate(tmp_path / "a", days=12, seed=3, per_day=30)
    second = generate(tmp_path / "b", days=12, seed=3, per_day=30)
    assert first == second
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert (tmp_path / "a" / PROBLEMS_NAME).read_bytes() == (tmp_path / "b" / PROBLEMS_NAME).read_bytes()
    assert any(name.endswith(".xlsx") for name in tree(tmp_path / "a"))  # the zip timestamps are fixed too
    generate(tmp_path / "c", days=12, seed=4, per_day=30)
    other = tree(tmp_path / "c")
    assert other != tree(tmp_path / "a")
    common = set(other) & set(tree(tmp_path / "a"))
    assert any(other[name] != tree(tmp_path / "a")[name] for name in common)


def test_a_second_run_replaces_the_files_of_the_first(tmp_path):
    generate(tmp_path, days=6, seed=1)
    manifest = generate(tmp_path, days=3, seed=1)
    on_disk = {name for name in tree(tmp_path) if not name.startswith(".")}
    assert on_disk == set(manifest["files"])
    assert {name for name in tree(tmp_path) if name.startswith(".")} == {MANIFEST_NAME, PROBLEMS_NAME}
    rows = read_problems(tmp_path)  # the truth file is the second run's
    assert len(rows) == manifest["distinct"]["resident_demands"]
    assert max(r["received_at"][:10] for r in rows) <= manifest["parameters"]["end"]


def test_rejects_nonsense_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, days=0)
    with pytest.raises(ValueError):
        generate(tmp_path, days=3, per_day=-1)


def test_thirty_days_give_every_channel_a_month(tmp_path):
    # how long it takes is `minqing bench`'s business, never a test's
    manifest = generate(tmp_path, days=30, per_day=40)
    assert len(manifest["daily"]) == 30
    for channel in ("hotline", "miniprogram", "reception"):
        assert manifest["totals"]["by_channel"][channel]["records"] > 0, channel


# --- the manifest against the files ----------------------------------------------------------------------------

def test_every_channel_folder_has_files_and_the_manifest_lists_exactly_them(month):
    out, manifest, _ = month
    on_disk = tree(out)
    assert MANIFEST_NAME in on_disk and PROBLEMS_NAME in on_disk
    assert set(manifest["files"]) == {name for name in on_disk if name not in (MANIFEST_NAME, PROBLEMS_NAME)}
    for channel, pattern in (("hotline", r"hotline/(12345|400)_\d{8}(_resend)?\.csv"),
                             ("miniprogram", r"miniprogram/tickets_\d{8}(_retry)?\.jsonl"),
                             ("reception", r"reception/reception_.+_\d{6}(_副本)?\.(xlsx|csv)")):
        names = [n for n, e in manifest["files"].items() if e["channel"] == channel]
        assert names, channel
        assert all(re.fullmatch(pattern, n) for n in names), channel
        assert all(n.startswith(channel + "/") for n in names)
    assert json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8")) == manifest


def test_records_and_bad_of_every_file_are_what_the_file_holds(month):
    _, manifest, parsed = month
    for name, entry in manifest["files"].items():
        got = parsed[name]
        assert (got["records"], got["bad"]) == (entry["records"], entry["bad"]), name
        assert set(entry) >= {"channel", "records", "bad", "duplicate_of"}
    totals = manifest["totals"]
    assert totals["records"] == sum(e["records"] for e in manifest["files"].values())
    assert totals["bad"] == sum(e["bad"] for e in manifest["files"].values())
    assert totals["loadable"] == totals["records"] - totals["bad"]
    assert totals["files"] == len(manifest["files"])


def loadable_records(manifest, parsed) -> tuple[set, dict, list]:
    """Over the files that are no re-delivery: the work order ids, the tickets (id -> type), and the
    reception files with what the test's reader parsed of them."""
    orders, tickets, reception = set(), {}, []
    for name, entry in manifest["files"].items():
        if entry["duplicate_of"]:
            continue
        got = parsed[name]
        if entry["channel"] == "hotline":
            orders.update(row["工单编号"] for row in got["good"])
        elif entry["channel"] == "miniprogram":
            tickets.update((t["ticket_id"], t["type"]) for t in got["good"])
        else:
            reception.append((name, got))
    return orders, tickets, reception


def test_distinct_counts_match_the_loadable_records(month):
    _, manifest, parsed = month
    orders, tickets, reception = loadable_records(manifest, parsed)
    entries = sum(len(got["good"]) for _, got in reception)
    distinct = manifest["distinct"]
    demand_tickets = [t for t, kind in tickets.items() if kind in ("repair", "complaint")]
    assert distinct["work_orders"] == len(orders)
    assert distinct["work_orders_12345"] == sum(1 for o in orders if o.startswith("GD"))
    assert distinct["work_orders_400"] == sum(1 for o in orders if o.startswith("400-"))
    assert distinct["tickets"] == len(tickets)
    assert distinct["demand_tickets"] == len(demand_tickets)
    assert distinct["reception_entries"] == entries
    assert distinct["resident_demands"] == len(orders) + len(demand_tickets) + entries
    assert sum(manifest["categories"].values()) == distinct["resident_demands"]
    assert sum(day["demands"] for day in manifest["daily"].values()) == distinct["resident_demands"]
    # bill payments and renovation applications are about a quarter of the feed
    assert 0.15 <= 1 - len(demand_tickets) / len(tickets) <= 0.35
    # per_day is the mean of new resident demands per day
    assert 40 * 30 * 0.85 <= distinct["resident_demands"] <= 40 * 30 * 1.15


# --- the ground truth of problems -------------------------------------------------------------------------------

def test_the_truth_file_lists_every_resident_demand_record_once(month):
    out, manifest, parsed = month
    rows = read_problems(out)
    assert list(rows[0]) == ["channel", "record_key", "problem", "received_at", "community", "category", "building",
                             "repeat", "near_miss_of", "near_miss"]
    assert len(rows) == manifest["distinct"]["resident_demands"]
    # the records of the files, read independently: work order ids, repair/complaint ticket ids, and the
    # reception entries as community, date and 反映问题 (a merged 日期 cell holds for the rows below it)
    orders, tickets, reception = loadable_records(manifest, parsed)
    entries = Counter()
    for name, got in reception:
        community, year = re.match(r"reception/reception_(.+)_(\d{4})\d{2}\.", name).groups()
        day = None
        for cells in got["good"]:
            if cells[1] not in (None, ""):
                day = reception_day(cells[1], int(year))
            entries[(community, f"{day.isoformat()}|{cells[7]}")] += 1
    listed = Counter((r["channel"], r["record_key"]) for r in rows)
    assert {k for c, k in listed if c == "hotline"} == orders
    assert {k for c, k in listed if c == "miniprogram"} == {t for t, kind in tickets.items()
                                                            if kind in ("repair", "complaint")}
    assert Counter((r["community"], r["record_key"]) for r in rows if r["channel"] == "reception") == entries
    assert all(n == 1 for (channel, _), n in listed.items() if channel != "reception")
    for row in rows:
        assert row["community"] in COMMUNITIES and row["category"] in CATEGORY_CODES
        assert row["repeat"] in ("", "again", "neighbour") and row["near_miss"] in ("", "same_building", "same_text")
        assert dt.datetime.fromisoformat(row["received_at"]).tzinfo is None
        assert row["building"] == "" or int(row["building"]) > 0
    assert [r["received_at"] for r in rows] == sorted(r["received_at"] for r in rows)
    assert Counter(r["category"] for r in rows) == +Counter(manifest["categories"])
    assert manifest["distinct"]["problems"] == len({r["problem"] for r in rows}) < len(rows)
    assert manifest["distinct"]["near_miss_issues"] == len({r["problem"] for r in rows if r["near_miss_of"]})


def test_repeats_report_the_problem_of_an_earlier_demand(month):
    out, manifest, _ = month
    first: dict[str, dict] = {}
    repeats = 0
    for row in read_problems(out):
        if row["repeat"]:
            repeats += 1
            original = first.get(row["problem"])  # reported before, not as a repeat
            if original is None:
                continue  # the first report never reached a loadable record (a bad or cut-off one)
            assert original["repeat"] == "" and original["received_at"] < row["received_at"]
            assert all(original[c] == row[c] for c in ("community", "category", "building", "near_miss_of"))
        else:
            assert row["problem"] not in first  # a problem's first report is its only one that is not a repeat
            first[row["problem"]] = row
    assert repeats == manifest["distinct"]["repeat_demands"] + manifest["distinct"]["same_address_demands"] > 0


def test_near_misses_of_both_kinds_look_like_a_recent_problem_but_are_another(month):
    out, _, _ = month
    rows = read_problems(out)
    first = {}
    for row in rows:
        first.setdefault(row["problem"], row)
    near = {p: r for p, r in first.items() if r["near_miss_of"]}
    kinds = Counter(r["near_miss"] for r in near.values())
    assert kinds["same_building"] >= 5 and kinds["same_text"] >= 5, kinds
    assert all(r["near_miss"] for r in near.values())
    for problem, row in near.items():
        assert row["near_miss_of"] != problem
        neared = first.get(row["near_miss_of"])
        if neared is None:
            continue  # the issue it nears never reached a loadable record (a cut-off last line)
        assert (neared["community"], neared["category"]) == (row["community"], row["category"])
        assert (neared["building"] == row["building"]) == (row["near_miss"] == "same_building")
        if not neared["repeat"] and not row["repeat"]:  # both first reports: opened 1-10 days apart
            days = dt.date.fromisoformat(row["received_at"][:10]) - dt.date.fromisoformat(neared["received_at"][:10])
            assert dt.timedelta(days=1) <= days <= dt.timedelta(days=10)
    assert sum(1 for r in near.values() if r["near_miss_of"] in first) > len(near) * 0.9


def test_redeliveries_are_byte_identical_and_sort_after_their_original(month):
    out, manifest, _ = month
    copies = {n: e for n, e in manifest["files"].items() if e["duplicate_of"]}
    assert copies
    for name, entry in copies.items():
        original = entry["duplicate_of"]
        assert (out / name).read_bytes() == (out / original).read_bytes()
        assert sorted([name, original]) == [original, name]  # a loader walking in name order sees the original first
        assert (entry["records"], entry["bad"]) == (manifest["files"][original]["records"],
                                                    manifest["files"][original]["bad"])
    assert manifest["totals"]["duplicate_files"] == len(copies)


def test_late_files_arrive_days_after_the_day_they_cover(month):
    out, manifest, _ = month
    late = {n: e for n, e in manifest["files"].items() if e["late"]}
    assert any(e["channel"] == "hotline" for e in late.values())
    for name, entry in manifest["files"].items():
        delivered = dt.datetime.fromisoformat(entry["delivered_at"])
        assert abs((out / name).stat().st_mtime - delivered.timestamp()) < 1
        if entry["channel"] != "reception":
            covered = dt.date.fromisoformat(entry["covers"])
            lag = delivered.date() - covered
            assert (lag >= dt.timedelta(days=3)) if entry["late"] else (lag <= dt.timedelta(days=2)), name


def test_every_kind_of_bad_record_occurs_and_is_recognisable(month):
    out, manifest, parsed = month
    kinds = Counter()
    for name, entry in manifest["files"].items():
        kinds.update(entry.get("bad_kinds", {}))
        if "cut_last_line" in entry.get("bad_kinds", {}):
            assert not parsed[name]["ends_with_newline"]
            last = (out / name).read_text(encoding="utf-8").split("\n")[-1]
            assert last.startswith('{"ticket_id": "MP')
    assert set(kinds) == {"missing_id", "impossible_date", "not_json", "cut_last_line", "no_issue_text"}
    assert sum(kinds.values()) == manifest["totals"]["bad"]


# --- content -----------------------------------------------------------------------------------------------

def test_all_fifteen_categories_appear_over_sixty_days(two_months):
    _, manifest = two_months
    assert set(manifest["categories"]) == CATEGORY_CODES
    assert all(count > 0 for count in manifest["categories"].values()), manifest["categories"]


def test_all_communities_appear_and_the_mini_program_is_mostly_two_of_them(month):
    _, manifest, parsed = month
    text = "".join(parsed[n]["text"] for n, e in manifest["files"].items() if e["channel"] == "hotline")
    assert all(c in text for c in COMMUNITIES)
    communities = Counter(t["community"] for n, e in manifest["files"].items() if e["channel"] == "miniprogram"
                          and not e["duplicate_of"] for t in parsed[n]["good"])
    two = sum(v for k, v in communities.items() if k.startswith(("保利益丰", "西局玉园")))
    assert two / sum(communities.values()) > 0.6


def test_flood_season_brings_waterlogging(summer):
    out, manifest = summer
    daily = manifest["daily"]

    def count(first: dt.date, days: int, category: str) -> int:
        return sum(daily[(first + dt.timedelta(days=i)).isoformat()]["categories"].get(category, 0)
                   for i in range(days))

    early, peak = dt.date(2026, 6, 1), dt.date(2026, 7, 20)
    assert count(peak, 21, "waterlogging") > 2 * count(early, 21, "waterlogging")
    assert count(peak, 21, "housing_leak") > count(early, 21, "housing_leak")
    # the same seen in the files: hotline orders that speak of standing water, by the day they came in
    received: dict[str, dt.date] = {}
    for name, entry in manifest["files"].items():
        if entry["channel"] == "hotline" and not entry["duplicate_of"]:
            for row in read_hotline((out / name).read_bytes())["good"]:
                if "积水" in row["诉求内容"]:
                    received[row["工单编号"]] = row["_received"].date()
    in_early = sum(1 for d in received.values() if early <= d < early + dt.timedelta(days=21))
    in_peak = sum(1 for d in received.values() if peak <= d < peak + dt.timedelta(days=21))
    assert in_peak > 1.5 * in_early


def test_heating_complaints_cluster_in_the_first_days_of_the_season(tmp_path):
    manifest = generate(tmp_path, days=40, start=dt.date(2026, 11, 1), seed=11)
    heating = {day: v["categories"].get("heating", 0) for day, v in manifest["daily"].items()}

    def week(first: str) -> int:
        start = dt.date.fromisoformat(first)
        return sum(heating[(start + dt.timedelta(days=i)).isoformat()] for i in range(7))

    assert week("2026-11-15") > 2 * week("2026-11-01")
    assert week("2026-11-15") > 1.5 * week("2026-12-04")


def test_weekly_rhythm(two_months):
    _, manifest = two_months
    by_weekday = defaultdict(int)
    for day, value in manifest["daily"].items():
        by_weekday[dt.date.fromisoformat(day).weekday()] += value["demands"]
    assert by_weekday[0] > by_weekday[6]


def test_hotline_encodings_date_forms_and_columns(month):
    _, manifest, parsed = month
    hotline = {n: parsed[n] for n, e in manifest["files"].items() if e["channel"] == "hotline"}
    assert {h["encoding"] for h in hotline.values()} == {"utf-8", "utf-8-sig", "gb18030"}
    forms = Counter()
    for h in hotline.values():
        for row in h["good"]:
            for column in ("来电时间", "更新时间"):
                forms[parse_time(row[column])[1]] += 1
    assert set(forms) == {"iso", "slash", "chinese", "excel"}
    headers = [tuple(h["header"]) for h in hotline.values()]
    assert len(set(headers)) > 2  # columns in more than one order
    assert any(set(h) - {"工单编号", "来源", "来电时间", "诉求人", "联系电话", "诉求类型", "诉求内容", "诉求地址", "所属街道",
                         "所属社区", "问题分类", "承办单位", "派单时间", "签收时间", "首次联系时间", "办结时间", "办理状态", "是否解决",
                         "满意度", "更新时间"} for h in headers)
    rows = [row for h in hotline.values() for row in h["good"]]
    contents = [row["诉求内容"] for row in rows]
    assert any("\n" in c for c in contents)
    assert any("," in c for c in contents)
    assert any('"' in c for c in contents)
    assert max(len(c) for c in contents) > 400
    ids = {row["工单编号"] for row in rows}
    assert all(re.fullmatch(r"GD\d{13}|400-\d{8}-\d{4}", i) for i in ids)
    assert all((row["来源"] == "12345") == row["工单编号"].startswith("GD") for row in rows)
    communities = Counter(row["所属社区"] for row in rows)
    assert communities[""] > 0
    assert "望园" in communities and "望园社区" in communities
    assert any(c.startswith("六里桥街道") for c in communities)
    assert any(c.startswith("丰台区六里桥街道") for c in communities)
    for row in rows:
        if not row["所属社区"]:
            assert any(name in row["诉求地址"] for name in COMMUNITIES), row["诉求地址"]
    assert Counter(row["问题分类"] == "" for row in rows)[True] > len(rows) * 0.25
    names = Counter(row["诉求人"] for row in rows)
    assert names["匿名"] > 0 and names[""] > 0
    phones = [row["联系电话"] for row in rows]
    for pattern in (r"1\d{10}", r"1\d{2} \d{4} \d{4}", r"\+86 1\d{10}", r"010-\d{8}", r"1\d{2}\*{4}\d{4}"):
        assert any(re.fullmatch(pattern, p) for p in phones), pattern


def test_work_orders_move_through_their_lifecycle(month):
    _, manifest, parsed = month
    versions = defaultdict(list)
    for name, entry in manifest["files"].items():
        if entry["channel"] == "hotline" and not entry["duplicate_of"]:
            for row in parsed[name]["good"]:
                versions[row["工单编号"]].append(row)
    statuses = {row["办理状态"] for rows in versions.values() for row in rows}
    assert statuses == HOTLINE_STATUSES
    many = [rows for rows in versions.values() if len(rows) >= 3]
    assert len(many) > len(versions) * 0.3
    for rows in versions.values():
        rows.sort(key=lambda r: r["_updated"])
        assert len({r["_updated"] for r in rows}) == len(rows)  # every version is newer than the last
        assert len({r["诉求内容"] for r in rows}) == 1
    closed = [rows[-1] for rows in versions.values() if rows[-1]["办理状态"] == "已办结"]
    assert {r["满意度"] for r in closed} >= {"满意", "基本满意", "不满意", "未回访", ""}
    assert {r["是否解决"] for r in closed} >= {"是", "否"}
    returned = [rows for rows in versions.values() if any(r["办理状态"] == "已退单" for r in rows)]
    assert returned
    # a daily export holds the versions written that day; an order's first is in the export of the day it came in
    for name, entry in manifest["files"].items():
        if entry["channel"] == "hotline" and not entry["duplicate_of"]:
            day = dt.date.fromisoformat(entry["covers"])
            assert all(row["_updated"].date() == day for row in parsed[name]["good"])
    first_day = dt.date.fromisoformat(manifest["parameters"]["start"])
    for rows in versions.values():
        assert rows[0]["_updated"].date() == rows[0]["_received"].date() or rows[0]["_received"].date() < first_day


def test_tickets_grow_events_and_carry_every_quirk(month):
    _, manifest, parsed = month
    lines = [t for n, e in manifest["files"].items() if e["channel"] == "miniprogram" for t in parsed[n]["good"]]
    assert {t["type"] for t in lines} == {"repair", "complaint", "bill_payment", "decoration_application"}
    assert all(re.fullmatch(r"MP\d{14}", t["ticket_id"]) for t in lines)
    times = [t["submitted_at"] for t in lines]
    assert any(isinstance(v, int) and v > 10**12 for v in times)
    assert any(isinstance(v, str) and v.endswith("+08:00") for v in times)
    assert any(isinstance(v, str) and v.endswith("Z") for v in times)
    for key in ("location", "images", "user", "events", "rating"):
        assert any(key not in t for t in lines), key
    for key in ("location", "images", "user", "events"):
        assert any(key in t and t[key] is None for t in lines), key
    known = {"ticket_id", "type", "submitted_at", "updated_at", "community", "project_code", "location", "title",
             "content", "images", "user", "status", "events", "rating", "rating_comment"}
    assert any(set(t) - known for t in lines)
    statuses = {t["status"] for t in lines}
    assert statuses >= {"submitted", "dispatched", "in_progress", "completed", "closed", "cancelled"}
    history = defaultdict(list)
    for t in lines:
        if t.get("events"):
            history[t["ticket_id"]].append(len(t["events"]))
    assert any(len(counts) >= 2 and counts == sorted(counts) and counts[-1] > counts[0] for counts in history.values())


def test_reception_workbooks_are_kept_by_hand(month):
    out, manifest, parsed = month
    names = [n for n, e in manifest["files"].items() if e["channel"] == "reception" and not e["duplicate_of"]]
    assert any(n.endswith(".csv") for n in names) and any(n.endswith(".xlsx") for n in names)
    assert {re.match(r"reception/reception_(.+)_\d{6}", n).group(1) for n in names} == set(COMMUNITIES)
    books = [parsed[n] for n in names]
    assert any(b["title"] for b in books) and any(b["total"] for b in books) and any(b["blank"] for b in books)
    assert any(b["merged"] for b in books)
    assert any(b["sheets"] > 1 for b in books)
    first = openpyxl.load_workbook(out / next(n for n in names if n.endswith(".xlsx")))
    sheet = first.worksheets[0]
    header_row = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "序号")
    assert list(header_row) == RECEPTION_HEADER
    dates = [row[1] for b in books for row in b["good"] if row[1] is not None]
    assert any(isinstance(d, dt.datetime) for d in dates)
    assert any(isinstance(d, str) and re.fullmatch(r"\d{1,2}月\d{1,2}日", d) for d in dates)
    assert any(isinstance(d, str) and re.fullmatch(r"2026\.\d{1,2}\.\d{1,2}", d) for d in dates)
    assert any(isinstance(d, str) and re.fullmatch(r"2026-\d{2}-\d{2}", d) for d in dates)
    methods = {row[2] for b in books for row in b["good"] if row[2]}
    assert methods == {"接待日", "民意接待日", "敲门", "入户", "巡查", "日常巡查"}
    patrols = [row for b in books for row in b["good"] if row[2] in ("巡查", "日常巡查")]
    assert sum(1 for row in patrols if not row[4] and not row[5]) > len(patrols) * 0.7


def test_some_residents_call_again_and_again(month):
    _, manifest, parsed = month
    orders_by_phone = defaultdict(set)
    addresses = Counter()
    for name, entry in manifest["files"].items():
        if entry["channel"] == "hotline" and not entry["duplicate_of"]:
            for row in parsed[name]["good"]:
                digits = re.sub(r"\D", "", row["联系电话"])[-11:]
                if "*" not in row["联系电话"] and len(digits) == 11:
                    orders_by_phone[digits].add(row["工单编号"])
    for name, entry in manifest["files"].items():
        if entry["channel"] == "hotline" and not entry["duplicate_of"]:
            seen = set()
            for row in parsed[name]["good"]:
                if row["工单编号"] not in seen and row["_received"].date().isoformat() == entry["covers"]:
                    seen.add(row["工单编号"])
                    addresses[re.sub(r"^.*?(社区|村)", "", row["诉求地址"])] += 1
    assert max(len(orders) for orders in orders_by_phone.values()) >= 3
    assert addresses.most_common(1)[0][1] >= 3  # the same flat, building or place reported again
    assert sum(1 for orders in orders_by_phone.values() if len(orders) >= 2) >= 10
    assert manifest["distinct"]["repeat_demands"] > 0 and manifest["distinct"]["same_address_demands"] > 0


def test_the_ingestion_readers_agree_with_the_manifest(month):
    """Cross-check with the project's own readers (no database): rows in and quarantined per file."""
    pytest.importorskip("ingestion.hotline")
    from ingestion import hotline, miniprogram, reception

    readers = {"hotline": hotline.read, "miniprogram": miniprogram.read, "reception": reception.read}
    out, manifest, _ = month
    for name, entry in manifest["files"].items():
        result = readers[entry["channel"]]((out / name).read_bytes(), name)
        assert (len(result.records) + len(result.rejected), len(result.rejected)) == (entry["records"], entry["bad"]), (
            name, [r.reason for r in result.rejected])
