"""Integration: a small hand-made landing folder through ingest and `dbt build`, and the exact figures of the
problem marts — the high-frequency problem list (高频问题清单, mart_high_frequency_problems) and the candidates
for 每月一题 (mart_monthly_theme_candidates) — with the rules in force in seeds/high_frequency_rules.csv and
seeds/monthly_theme_weights.csv.

The scenario (Beijing time; as-of pinned at the end of 2026-07-31; the data starts on 2026-06-01):

望园社区 × 积水内涝 (waterlogging: 24 h to close from dispatch) — the problem that keeps coming back:
  W6  06-15  10号楼                 12345, closed the same day
  W5  07-20  9号楼                  12345, closed                    (the previous 7-day window)
  R1  07-26  8号楼                  door-knocking find (敲门), closed  (proactive)
  W1  07-27  3号楼   phone X        12345, closed
  W2  07-28  3号楼   phone Y        12345, closed
  W3  07-29  3号楼   phone X again  12345, closed
  W4  07-30  5号楼                  12345, dispatched 09:10, still open: overdue from 07-31 09:10
保利益丰社区 × 物业服务 (property_service) — as many reports, but never the same building or resident twice:
  P0 06-01, P00 06-20, P5 07-10, P1 07-25 (不满意), P2 07-26, P3 07-28, P4 07-30 — 400 line, all closed
六南社区 × 噪音扰民 (noise): N1 07-05, one order.

7 days to 07-31 (07-25 … 07-31), 望园 × 积水: 5 reports (one proactive) against 1 the week before; 3 from
3号楼, 2 from phone X → 3 repeat reports, 60 % ≥ 25 % and 5 ≥ 4: high-frequency. 保利益丰 × 物业: 4 reports,
0 % repeats: not. July's candidates: 望园 × 积水 (6 demands, 3.0 × its June, every part at the maximum but
dissatisfaction) before 保利益丰 × 物业 (5 demands, 2.5 ×, one 不满意).
"""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from minqing.transform import build

from conftest import store_classifications

AS_OF = "2026-07-31T24:00:00+08:00"
EARLIER_AS_OF = "2026-07-29T24:00:00+08:00"
HEADER = ["工单编号", "来源", "来电时间", "诉求人", "联系电话", "诉求类型", "诉求内容", "诉求地址", "所属街道", "所属社区",
          "问题分类", "承办单位", "派单时间", "签收时间", "首次联系时间", "办结时间", "办理状态", "是否解决", "满意度", "更新时间"]
PHONE_X = "13800001111"

# key -> (text, category), as the classifier would store it
TEXTS = {
    "W6": ("10号楼门口雨后积水", "waterlogging"),
    "W5": ("9号楼前路面积水半尺深", "waterlogging"),
    "R1": ("8号楼单元门口下雨就积水", "waterlogging"),
    "W1": ("暴雨后3号楼1单元门口积水排不出去", "waterlogging"),
    "W2": ("3号楼2单元楼前积水，地下室进水", "waterlogging"),
    "W3": ("3号楼前积水又没人管，第二次反映", "waterlogging"),
    "W4": ("5号楼旁积水，雨水井堵了", "waterlogging"),
    "P0": ("物业不打扫楼道", "property_service"),
    "P00": ("物业电梯坏了没人修", "property_service"),
    "P5": ("物业门禁坏了", "property_service"),
    "P1": ("物业服务态度差", "property_service"),
    "P2": ("物业垃圾清运不及时", "property_service"),
    "P3": ("物业收费不透明", "property_service"),
    "P4": ("物业绿化没人管", "property_service"),
    "N1": ("楼下商铺晚上噪音太大", "noise"),
}


def _order(order_id: str, line: str, key: str, received: str, community: str, address: str, phone: str,
           versions: list[dict]) -> list[dict]:
    base = {"工单编号": order_id, "来源": line, "来电时间": received, "诉求人": "王芳", "联系电话": phone,
            "诉求类型": "投诉", "诉求内容": TEXTS[key][0], "诉求地址": f"丰台区六里桥街道{community}{address}",
            "所属街道": "六里桥街道", "所属社区": community, "问题分类": "", "承办单位": "六里桥街道"}
    rows, state = [], {}
    for changes in versions:
        state.update(changes)
        rows.append({**base, **{h: "" for h in HEADER if h not in base}, **state})
    return rows


def _closed(order_id, line, key, day, community, address, phone, visit=None):
    """Received at 10:00, dispatched 10:10, contacted 11:00, closed 16:00 the same day."""
    versions = [
        {"派单时间": f"{day} 10:10:00", "办理状态": "已派单", "更新时间": f"{day} 10:10:00"},
        {"首次联系时间": f"{day} 11:00:00", "办理状态": "办理中", "更新时间": f"{day} 11:00:00"},
        {"办结时间": f"{day} 16:00:00", "办理状态": "已办结", "更新时间": f"{day} 16:00:00"},
    ]
    if visit:
        resolved, satisfaction = visit
        versions.append({"是否解决": resolved, "满意度": satisfaction, "更新时间": f"{day} 20:00:00"})
    return _order(order_id, line, key, f"{day} 10:00:00", community, address, phone, versions)


def _write_csv(path: Path, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")


def write_landing(root: Path) -> None:
    wy = "望园社区"
    hotline = []
    hotline += _closed("GD2026061500001", "12345", "W6", "2026-06-15", wy, "10号楼1单元101", "13900000006")
    hotline += _closed("GD2026072000001", "12345", "W5", "2026-07-20", wy, "9号楼1单元101", "13900000005")
    hotline += _closed("GD2026072700001", "12345", "W1", "2026-07-27", wy, "3号楼1单元101", PHONE_X)
    hotline += _closed("GD2026072800001", "12345", "W2", "2026-07-28", wy, "3号楼2单元202", "13900000002")
    hotline += _closed("GD2026072900001", "12345", "W3", "2026-07-29", wy, "3号楼3单元303", PHONE_X)
    hotline += _order("GD2026073000001", "12345", "W4", "2026-07-30 09:00:00", wy, "5号楼1单元101", "13900000004", [
        {"派单时间": "2026-07-30 09:10:00", "办理状态": "已派单", "更新时间": "2026-07-30 09:10:00"},
    ])
    hotline += _closed("GD2026070500001", "12345", "N1", "2026-07-05", "六南社区", "1号楼1单元101", "13900000009")
    _write_csv(root / "hotline/12345_202607.csv", hotline)

    bl = "保利益丰社区"
    line_400 = []
    for n, (key, day) in enumerate((("P0", "2026-06-01"), ("P00", "2026-06-20"), ("P5", "2026-07-10"),
                                    ("P1", "2026-07-25"), ("P2", "2026-07-26"), ("P3", "2026-07-28"),
                                    ("P4", "2026-07-30")), start=1):
        visit = ("否", "不满意") if key == "P1" else None
        line_400 += _closed(f"400-{day.replace('-', '')}-000{n}", "400", key, day, bl, f"{n}号楼1单元101",
                            f"1370000000{n}", visit)
    _write_csv(root / "hotline/400_20260730.csv", line_400)

    (root / "reception").mkdir(parents=True, exist_ok=True)
    (root / "reception/reception_望园社区_202607.csv").write_text(
        "望园社区民意接待日登记表（2026年7月）,,,,,,,,,,,\n"
        "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注\n"
        f"1,2026-07-26,敲门,何敏,罗建华,13366001122,望园社区8号楼,{TEXTS['R1'][0]},积水,疏通雨水口,是,\n",
        encoding="utf-8")


@pytest.fixture()
def built(fresh_warehouse, tmp_path):
    landing = tmp_path / "landing"
    write_landing(landing)
    reports = ingest(landing, progress=False)
    assert all(r.rows_quarantined == 0 and r.status == "loaded" for r in reports), [r.as_json() for r in reports]
    with psycopg.connect(fresh_warehouse) as conn:
        store_classifications(conn, TEXTS.values())
    outcome = build(as_of=AS_OF)
    assert outcome.success, outcome.failures
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        yield conn


def rows(conn, sql: str, *params) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def one(conn, sql: str, *params) -> dict:
    found = rows(conn, sql, *params)
    assert len(found) == 1, (sql, params, found)
    return found[0]


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


PROBLEM = ("select * from marts.mart_high_frequency_problems "
           "where window_days = %s and problem_level = %s and community_id = %s and category_code = %s "
           "and address_key is not distinct from %s")


def test_problem_marts_on_a_known_scenario(built):
    conn = built
    assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] == 15
    assert conn.execute("select count(*) from marts.fct_complaints where category_code = 'other'").fetchone()[0] == 0

    # --- the repeating problem, 7 days to 07-31 --------------------------------------------------------
    water_id = md5("community_category|wangyuan|waterlogging|")
    w7 = one(conn, PROBLEM, 7, "community_category", "wangyuan", "waterlogging", None)
    assert w7["problem_id"] == water_id and w7["parent_problem_id"] is None
    assert (w7["as_of_date"].isoformat(), w7["window_start"].isoformat(), w7["previous_window_start"].isoformat()) \
        == ("2026-07-31", "2026-07-25", "2026-07-18")
    assert (w7["is_full_window"], w7["is_previous_window_covered"]) == (True, True)
    assert (w7["report_count"], w7["proactive_reports"], w7["previous_report_count"]) == (5, 1, 1)
    assert (w7["trend_difference"], w7["trend_ratio"]) == (4, Decimal("5.00"))
    assert (w7["repeat_complainant_count"], w7["repeat_complainant_reports"]) == (1, 2)   # phone X
    assert (w7["repeat_address_count"], w7["repeat_address_reports"]) == (1, 3)           # 3号楼
    assert (w7["repeat_reports"], w7["repeat_share"]) == (3, Decimal("0.6000"))
    assert (w7["open_count"], w7["open_share"], w7["overdue_open_count"]) == (1, Decimal("0.2000"), 1)  # W4
    assert w7["last_received_date"].isoformat() == "2026-07-30"
    assert (w7["min_reports"], w7["min_repeat_share"]) == (4, Decimal("0.2500"))
    assert w7["is_high_frequency"] is True
    assert w7["rank_score"] == Decimal("11.50")  # 5 + 3 + 0.5 × 1 open + 1 × 1 overdue + 0.5 × 4 growth
    assert w7["rank_in_window"] == 1
    assert w7["reasons"] == ("近7天5件（前7天1件，+4，5.0倍）；其中主动发现1件；重复诉求人1人2件；重复楼栋1处3件；"
                             "重复占比60%；未办结1件（超期1件）；列入高频问题清单")

    # --- the problem that does not repeat: as many reports, no repeats -> not on the list -----------------
    p7 = one(conn, PROBLEM, 7, "community_category", "baoliyifeng", "property_service", None)
    assert (p7["report_count"], p7["previous_report_count"], p7["trend_difference"], p7["trend_ratio"]) == (4, 0, 4, None)
    assert (p7["repeat_complainant_count"], p7["repeat_address_count"], p7["repeat_reports"]) == (0, 0, 0)
    assert p7["repeat_share"] == Decimal("0.0000") and p7["open_count"] == 0
    assert p7["is_high_frequency"] is False
    assert (p7["rank_score"], p7["rank_in_window"]) == (Decimal("6.00"), 2)  # 4 + 0.5 × 4 growth
    assert p7["reasons"].endswith("未达高频标准（需4件以上且重复占比25%以上）")
    # the 7-day list holds exactly one community × category; noise of 07-05 is in neither 7-day window
    assert [r["problem_id"] for r in rows(conn, "select problem_id from marts.mart_high_frequency_problems "
            "where window_days = 7 and problem_level = 'community_category' and is_high_frequency")] == [water_id]
    assert rows(conn, "select 1 from marts.mart_high_frequency_problems where window_days = 7 and category_code = 'noise'") == []

    # --- the building: 3号楼 reported three times, twice by the same resident --------------------------------
    a7 = one(conn, PROBLEM, 7, "address", "wangyuan", "waterlogging", "wangyuan:3")
    assert a7["problem_id"] == md5("address|wangyuan|waterlogging|wangyuan:3")
    assert a7["parent_problem_id"] == water_id
    assert (a7["report_count"], a7["previous_report_count"], a7["repeat_complainant_count"],
            a7["repeat_complainant_reports"]) == (3, 0, 1, 2)
    assert (a7["repeat_address_count"], a7["repeat_address_reports"]) == (None, None)
    assert (a7["repeat_reports"], a7["repeat_share"], a7["min_reports"]) == (3, Decimal("1.0000"), 2)
    assert (a7["is_high_frequency"], a7["rank_score"], a7["rank_in_window"]) == (True, Decimal("7.50"), 1)
    listed = rows(conn, "select address_key from marts.mart_high_frequency_problems "
                        "where window_days = 7 and problem_level = 'address' and is_high_frequency")
    assert listed == [{"address_key": "wangyuan:3"}]
    a5 = one(conn, PROBLEM, 7, "address", "wangyuan", "waterlogging", "wangyuan:5")  # W4: open and overdue
    assert (a5["report_count"], a5["is_high_frequency"], a5["rank_score"], a5["rank_in_window"]) \
        == (1, False, Decimal("3.00"), 2)
    a9 = one(conn, PROBLEM, 7, "address", "wangyuan", "waterlogging", "wangyuan:9")  # W5: only the week before
    assert (a9["report_count"], a9["previous_report_count"], a9["trend_difference"], a9["repeat_share"]) == (0, 1, -1, None)

    # --- 30 and 90 days: the same problem, the same id; below the longer windows' bars ----------------------
    w30 = one(conn, PROBLEM, 30, "community_category", "wangyuan", "waterlogging", None)
    assert (w30["report_count"], w30["previous_report_count"], w30["trend_ratio"]) == (6, 1, Decimal("6.00"))
    assert (w30["repeat_reports"], w30["repeat_share"], w30["min_reports"]) == (3, Decimal("0.5000"), 15)
    assert w30["is_high_frequency"] is False and w30["is_previous_window_covered"] is True
    w90 = one(conn, PROBLEM, 90, "community_category", "wangyuan", "waterlogging", None)
    assert (w90["report_count"], w90["is_full_window"], w90["is_previous_window_covered"]) == (7, False, False)
    assert (w90["trend_difference"], w90["trend_ratio"]) == (None, None)
    assert w90["reasons"].startswith("近90天7件（前90天数据不全，不比较）")
    ids = {r["window_days"]: r["problem_id"] for r in rows(
        conn, "select window_days, problem_id from marts.mart_high_frequency_problems "
              "where problem_level = 'community_category' and community_id = 'wangyuan' and category_code = 'waterlogging'")}
    assert ids == {7: water_id, 30: water_id, 90: water_id}
    p30 = one(conn, PROBLEM, 30, "community_category", "baoliyifeng", "property_service", None)
    assert (p30["report_count"], p30["previous_report_count"]) == (5, 1)  # P0 of 06-01 is before 06-02

    # --- 每月一题: July's candidates ------------------------------------------------------------------------
    themes = rows(conn, "select * from marts.mart_monthly_theme_candidates order by month_start, candidate_level, candidate_rank")
    # June has no candidate (too few demands); July two per level; noise (1 demand) is none
    assert [(t["month_start"].isoformat(), t["candidate_level"], t["candidate_rank"], t["community_id"], t["category_code"])
            for t in themes] == [
        ("2026-07-01", "community_category", 1, "wangyuan", "waterlogging"),
        ("2026-07-01", "community_category", 2, "baoliyifeng", "property_service"),
        ("2026-07-01", "street_category", 1, "street", "waterlogging"),
        ("2026-07-01", "street_category", 2, "street", "property_service"),
    ]
    water, prop, street_water, street_prop = themes
    assert water["problem_id"] == water_id  # the same problem as on the high-frequency list
    # a street candidate's id names its street (issue 23: two streets' candidates of a category are two problems)
    assert street_water["problem_id"] == md5("street_category|liuliqiao|waterlogging|")
    assert water["is_complete_month"] is True
    assert (water["volume"], water["proactive_count"], water["street_volume"], water["volume_share"]) \
        == (6, 1, 12, Decimal("0.5000"))
    assert (water["baseline_months_used"], water["baseline_volume"], water["growth_ratio"]) \
        == (1, Decimal("1.0"), Decimal("3.00"))  # June only; 6 / max(1.0, floor 2)
    assert (water["repeat_complainant_count"], water["repeat_address_count"], water["dissatisfied_count"],
            water["overdue_count"], water["communities_affected"]) == (1, 1, 0, 1, None)
    assert [water[p] for p in ("volume_part", "growth_part", "repeat_complainant_part", "repeat_address_part",
                               "dissatisfied_part", "overdue_part", "communities_part")] \
        == [Decimal("1.0000")] * 4 + [Decimal("0.0000"), Decimal("1.0000"), Decimal("0.0000")]
    assert water["score"] == Decimal("0.8500")  # 0.30 + 0.20 + 0.15 + 0.10 + 0.10
    assert water["reasons"] == ("7月望园社区积水内涝6件，占全街道50.0%，为前1个月均值1.0件（按2件计）的3.0倍；"
                                "重复诉求人1人；重复楼栋1处；超期1件；其中主动发现1件；得分0.85，第1名")
    assert (prop["volume"], prop["baseline_volume"], prop["growth_ratio"], prop["dissatisfied_count"]) \
        == (5, Decimal("2.0"), Decimal("2.50"), 1)
    assert (prop["volume_part"], prop["growth_part"], prop["dissatisfied_part"]) \
        == (Decimal("0.8333"), Decimal("0.7500"), Decimal("1.0000"))  # 5/6, (2.5 − 1)/(3 − 1), 1/1
    assert prop["score"] == Decimal("0.5000")  # 0.30 × 0.8333 + 0.20 × 0.75 + 0.10 × 1
    assert (street_water["communities_affected"], street_water["communities_part"], street_water["score"]) \
        == (1, Decimal("1.0000"), Decimal("0.9000"))
    assert street_water["reasons"] == ("7月积水内涝6件，占全街道50.0%，为前1个月均值1.0件（按2件计）的3.0倍；涉及1个社区；"
                                       "重复诉求人1人；重复楼栋1处；超期1件；其中主动发现1件；得分0.90，第1名")
    assert street_prop["score"] == Decimal("0.5500")

    # --- another day, the same ids: rebuild the two marts as of the end of 07-29 ---------------------------
    before = {(r["window_days"], r["problem_level"], r["community_id"], r["category_code"], r["address_key"]): r["problem_id"]
              for r in rows(conn, "select * from marts.mart_high_frequency_problems")}
    outcome = build(as_of=EARLIER_AS_OF, select="mart_high_frequency_problems mart_monthly_theme_candidates")
    assert outcome.success, outcome.failures
    after = {(r["window_days"], r["problem_level"], r["community_id"], r["category_code"], r["address_key"]): r["problem_id"]
             for r in rows(conn, "select * from marts.mart_high_frequency_problems")}
    common = before.keys() & after.keys()
    assert len(common) > 10 and all(before[k] == after[k] for k in common)
    earlier = one(conn, PROBLEM, 7, "community_category", "wangyuan", "waterlogging", None)
    assert earlier["problem_id"] == water_id and earlier["as_of_date"].isoformat() == "2026-07-29"
    # 07-23 … 07-29: R1, W1, W2, W3 — W4 has not come in yet; still three repeats, now 75 %
    assert (earlier["report_count"], earlier["repeat_share"], earlier["open_count"], earlier["is_high_frequency"]) \
        == (4, Decimal("0.7500"), 0, True)
