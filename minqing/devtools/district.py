"""A district of several streets for the demo, the tests and the bench (issue 23): 六里桥街道 as the generator
writes it, and four streets of 丰台区 whose names — streets and communities — are invented (marked so in the
reference folder), each with its own communities and its own profile, so that the monthly ranking has
something to rank.

`generate_district` writes their landing files into one landing folder (another street's under its own
folder of each channel: hotline/huaiyuan/…); `write_reference` writes the reference folder that serves them
(the package's files and the invented streets' rows), to point MINQING_REFERENCE_DIR at.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from minqing.devtools.generate import (
    CHANNEL_MIX, DEFAULT_START, DISTRICT, LIULIQIAO, MINIPROGRAM, Community, Street, generate,
)

# How a generated community's kind is recorded in communities.csv (community_type, property_management)
KIND_TYPES = {"old": ("older_estate", "weak"), "managed": ("managed_estate", "professional"),
              "military": ("military_estate", "unit"), "railway": ("railway_estate", "unit"),
              "village": ("village", "none")}


# community ids, by community name, of the invented streets (communities.csv), and of the bench's city
COMMUNITY_IDS: dict[str, str] = {}
CITY_COMMUNITY_IDS: dict[str, str] = {}


def _street(street_id: str, name: str, block: int, service: float, communities: list[tuple],
            registry: dict[str, str] = COMMUNITY_IDS) -> Street:
    """An invented street: (community_id, name, short, kind, weight, buildings, top floor, project code,
    property unit, reception weekday) per community, each resolving its 12345 orders `service` × as often
    as the generator's usual (its profile in the ranking); `block`: its own block of order numbers."""
    for row in communities:
        registry[row[1]] = row[0]
    return Street(street_id, name, tuple(
        Community(c_name, short, kind, weight, buildings, top, code, unit, weekday, street=name, service=service)
        for _, c_name, short, kind, weight, buildings, top, code, unit, weekday in communities), folder=street_id,
        id_block=block)


INVENTED_STREETS = (
    _street("huaiyuan", "槐园街道", 1, 1.08, [
        ("huaiyuan_dong", "槐园东里社区", "槐园东里", "old", 1.3, 14, 6, "HYDL-01", "槐园东里准物业服务站", 2),
        ("huaiyuan_xi", "槐园西里社区", "槐园西里", "managed", 1.1, 18, 18, "HYXL-01", "槐园物业服务中心", 4),
        ("huaiyuan_cun", "槐园村", None, "village", 0.6, 5, 6, None, None, 1),
    ]),
    _street("yushu", "榆树街道", 2, 0.95, [
        ("yushu_bei", "榆树北社区", "榆树北", "old", 1.4, 16, 6, "YSB-01", "榆树北准物业服务站", 3),
        ("yushu_nan", "榆树南社区", "榆树南", "military", 1.0, 12, 6, "YSN-01", "榆树物业管理处", 1),
        ("yushu_jiayuan", "榆树家园社区", "榆树家园", "managed", 1.0, 20, 18, "YSJY-01", "家园物业服务中心", 2),
    ]),
    _street("liuxi", "柳溪街道", 3, 0.82, [
        ("liuxi_yi", "柳溪一社区", "柳溪一", "old", 1.5, 15, 6, "LXY-01", "柳溪准物业服务站", 2),
        ("liuxi_er", "柳溪二社区", "柳溪二", "old", 1.2, 12, 6, "LXE-01", "柳溪准物业服务站", 4),
        ("liuxi_cun", "柳溪村", None, "village", 0.7, 6, 6, None, None, 0),
    ]),
    _street("xiaoyue", "晓月街道", 4, 1.0, [
        ("xiaoyue_yuan", "晓月苑社区", "晓月苑", "managed", 1.2, 22, 18, "XYY-01", "晓月物业服务中心", 3),
        ("xiaoyue_tielu", "晓月铁路社区", "晓月铁路", "railway", 0.9, 10, 16, "XYTL-01", "晓月铁路物业服务中心", 1),
        ("xiaoyue_lao", "晓月老街社区", "晓月老街", "old", 1.2, 12, 6, "XYLJ-01", "晓月老街准物业服务站", 2),
    ]),
)


def streets_of(count: int) -> tuple[Street, ...]:
    """The first `count` streets of the district: 六里桥街道, then the invented ones."""
    if not 1 <= count <= 1 + len(INVENTED_STREETS):
        raise ValueError(f"a district of 1 to {1 + len(INVENTED_STREETS)} streets (六里桥街道 and "
                         f"{', '.join(s.name for s in INVENTED_STREETS)})")
    return (LIULIQIAO, *INVENTED_STREETS[:count - 1])


CITY_KINDS = (("old", "东社区", 1.2, 14, 6), ("managed", "西社区", 1.0, 20, 18), ("village", "村", 0.6, 5, 6))


def city_streets(count: int) -> tuple[Street, ...]:
    """`count` streets for the bench's city-day (issue 23: a city's 300 streets in one warehouse): 六里桥街道 and
    `count` − 1 streets of three communities each (an older estate, a managed one, a village) whose names are
    invented and numbered: 模拟001街道's 模拟001东社区, 模拟001西社区, 模拟001村."""
    if count < 1:
        raise ValueError("a city of at least one street")
    streets = [LIULIQIAO]
    for n in range(1, count):
        street_id, name = f"city{n:03d}", f"模拟{n:03d}"
        streets.append(_street(street_id, f"{name}街道", 100 + n, 1.0, [
            (f"{street_id}_{kind}", f"{name}{suffix}", None if kind == "village" else f"{name}{suffix[0]}", kind,
             weight, buildings, top, None, None, n % 5) for kind, suffix, weight, buildings, top in CITY_KINDS],
            registry=CITY_COMMUNITY_IDS))
    return tuple(streets)


def _weight(street: Street) -> float:
    return sum(c.weight for c in street.communities)


def generate_district(out: Path, days: int, seed: int = 7, per_day: float = 40, start: dt.date = DEFAULT_START,
                      streets: int = 5, effects: tuple = ()) -> dict[str, dict]:
    """The landing files of `streets` streets over the same days, each with its own seed; `per_day` is
    六里桥街道's, the others' in proportion to their communities' weight. Their manifests, by street_id."""
    manifests = {}
    base = _weight(LIULIQIAO)
    for k, street in enumerate(streets_of(streets)):
        manifests[street.street_id] = generate(
            out, days, seed=seed + 1000 * k, per_day=per_day * _weight(street) / base, start=start,
            effects=effects if street is LIULIQIAO else (), street=street)
    return manifests


def _append(path: Path, rows: list[dict]) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with open(path, "a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, header).writerows(rows)


def write_reference(folder: Path, streets: int | tuple[Street, ...] = 5, deliveries: bool = True) -> Path:
    """The reference folder of a district of `streets` streets (a count: `streets_of`; or the streets, 六里桥街道
    first): the package's files (六里桥街道) and the invented streets' rows — the street, its spellings, its
    communities and theirs, the mini-program's projects; as expected deliveries (unless `deliveries` is
    false: a city whose 12345 export is one file for every street), each street's own daily exports (12345,
    400, the mini-program pull, under its folder) and each community's monthly reception-day book."""
    from minqing import reference

    folder = Path(folder)
    reference.init(folder, force=True)
    invented = (streets_of(streets) if isinstance(streets, int) else streets)[1:]
    _append(folder / "streets.csv", [
        {"street_id": s.street_id, "street_name": s.name, "district_name": DISTRICT, "names_invented": "true",
         "notes": "invented for the generated district (minqing/devtools/district.py)"} for s in invented])
    _append(folder / "street_aliases.csv", [
        {"street_id": s.street_id, "alias": alias} for s in invented
        for alias in (s.name, s.short, DISTRICT + s.name, f"北京市{DISTRICT}{s.name}")])
    members = [(s, c, COMMUNITY_IDS.get(c.name) or CITY_COMMUNITY_IDS[c.name]) for s in invented for c in s.communities]
    _append(folder / "communities.csv", [
        {"community_id": cid, "street_id": s.street_id, "community_name": c.name,
         "community_type": KIND_TYPES[c.kind][0], "property_management": KIND_TYPES[c.kind][1],
         "on_miniprogram": str(CHANNEL_MIX[c.kind][MINIPROGRAM] >= 0.3).lower(), "households": ""}
        for s, c, cid in members])
    _append(folder / "community_aliases.csv", [
        {"alias": alias, "community_id": cid} for _, c, cid in members for alias in (c.name, c.short) if alias])
    _append(folder / "community_project_codes.csv", [
        {"project_code": c.project_code, "community_id": cid} for _, c, cid in members if c.project_code])
    if deliveries:
        _expect_own_deliveries(folder, invented, members)
    return folder


def _expect_own_deliveries(folder: Path, invented: tuple[Street, ...], members: list[tuple]) -> None:
    """Each street's own exports as expected deliveries: 六里桥街道's lie directly in each channel's folder,
    another street's in its own; each community's reception-day book, monthly."""
    deliveries = folder / "expected_deliveries.csv"
    with open(deliveries, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = reader.fieldnames, list(reader)
    for row in rows:
        if not row["community_id"]:
            row["street_id"] = LIULIQIAO.street_id
            row["path_like"] = {"hotline_12345": "hotline/12345%", "hotline_400": "hotline/400%",
                                "miniprogram": "miniprogram/tickets%"}[row["delivery_id"]]
    with open(deliveries, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    _append(deliveries, [
        {"delivery_id": f"{channel}_{s.street_id}", "channel": folder_name, "source_channel": channel,
         "community_id": "", "street_id": s.street_id, "path_like": f"{folder_name}/{s.folder}/{pattern}",
         "cadence": "daily", "due_days_after": 1, "due_time": "06:00", "label_zh": f"{s.name}{label}"}
        for s in invented for channel, folder_name, pattern, label in (
            ("hotline_12345", "hotline", "%12345%", "12345热线工单导出"), ("hotline_400", "hotline", "%400%", "400热线工单导出"),
            ("miniprogram", "miniprogram", "%", "物业小程序工单拉取"))])
    _append(deliveries, [
        {"delivery_id": f"reception_{cid}", "channel": "reception", "source_channel": "reception",
         "community_id": cid, "street_id": "", "path_like": f"reception/{s.folder}/%{c.name}%", "cadence": "monthly",
         "due_days_after": 5, "due_time": "18:00", "label_zh": f"{c.name}接待日登记表"} for s, c, cid in members])
