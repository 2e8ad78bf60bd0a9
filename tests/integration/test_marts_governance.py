"""Integration: a tiny hand-made landing folder with known outcomes, through ingest and `dbt build`, and the
exact figures of the governance marts (community daily facts, issue-category month, three rates,
sentiment code, complaint grades).

The scenario (Beijing time, July 2026; as-of pinned at 2026-07-16 12:00):

望园社区, waterlogging (积水内涝: 24 h to close, 24 h to first contact, both from dispatch), 12345 hotline:
  F  07-01 10:00, contacted 11:00, closed 07-01 16:00              9号楼   (baseline week 06-29)
  G  07-07 10:00, contacted 11:00, closed 07-07 18:00              10号楼  (baseline week 07-06)
  A  07-13 08:00, contacted 09:00, closed 07-13 18:00, 是 / 满意      3号楼   phone X
  B  07-13 10:00, contacted 12:00, closed 07-14 08:00, 是 / 满意      3号楼
  C  07-14 09:00 (dispatched 09:30), contacted 07-15 12:00 (late), closed 07-16 09:00 (overdue),
     否 / 基本满意                                                   3号楼   phone X again
  D  07-14 14:00, contacted 14:30, returned (退单) and re-dispatched, closed 07-14 20:00, 未回访   5号楼
  E  07-16 08:00, dispatched 08:10, open, not yet due                7号楼
  R  a door-knocking find (敲门) on 07-13, open, classified road_facilities       8号楼
保利益丰社区: P, a 400-line order on 07-14 (property_service), closed the same day, 否 / 不满意; and two
mini-program tickets that are not demands (a bill payment, a renovation application).

Week 07-13 for 望园 × waterlogging: 5 complaints against a baseline of (1 + 1) / 2 = 1.0, three from
3号楼, one overdue, one returned: 3 + 2 + 1 + 1 = 7 points, red.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from minqing.transform import build

from conftest import store_classifications

AS_OF = "2026-07-16T12:00:00+08:00"
HEADER = ["工单编号", "来源", "来电时间", "诉求人", "联系电话", "诉求类型", "诉求内容", "诉求地址", "所属街道", "所属社区",
          "问题分类", "承办单位", "派单时间", "签收时间", "首次联系时间", "办结时间", "办理状态", "是否解决", "满意度", "更新时间"]
PHONE_X = "13800001111"

# text -> category, as the classifier would store it
TEXTS = {
    "F": ("雨后9号楼门口积水，进不了单元门", "waterlogging"),
    "G": ("10号楼前路面积水半尺深", "waterlogging"),
    "A": ("暴雨后3号楼1单元门口积水排不出去", "waterlogging"),
    "B": ("3号楼2单元地下室进水，楼前积水", "waterlogging"),
    "C": ("3号楼前积水又没人管，第二次反映", "waterlogging"),
    "D": ("5号楼旁积水，雨水井堵了", "waterlogging"),
    "E": ("7号楼门口积水", "waterlogging"),
    "R": ("8号楼楼道灯坏了，晚上看不见", "road_facilities"),
    "P": ("物业不打扫楼道，垃圾堆了一周", "property_service"),
}


def _order(order_id: str, line: str, key: str, received: str, community: str, address: str, phone: str,
           versions: list[dict]) -> list[dict]:
    base = {"工单编号": order_id, "来源": line, "来电时间": received, "诉求人": "张伟", "联系电话": phone,
            "诉求类型": "投诉", "诉求内容": TEXTS[key][0], "诉求地址": f"丰台区六里桥街道{community}{address}",
            "所属街道": "六里桥街道", "所属社区": community, "问题分类": "", "承办单位": "六里桥街道"}
    rows, state = [], {}
    for changes in versions:
        state.update(changes)
        rows.append({**base, **{h: "" for h in HEADER if h not in base}, **state})
    return rows


def _closed_order(order_id, key, received, dispatched, contacted, closed, address, phone="", visit=None):
    versions = [
        {"派单时间": dispatched, "办理状态": "已派单", "更新时间": dispatched},
        {"首次联系时间": contacted, "办理状态": "办理中", "更新时间": contacted},
        {"办结时间": closed, "办理状态": "已办结", "更新时间": closed},
    ]
    if visit:
        resolved, satisfaction, visited_at = visit
        versions.append({"是否解决": resolved, "满意度": satisfaction, "更新时间": visited_at})
    return _order(order_id, "12345", key, received, "望园社区", address, phone or f"139{order_id[6:10]}{order_id[-4:]}", versions)


def write_landing(root: Path) -> None:
    rows = []
    rows += _closed_order("GD2026070100001", "F", "2026-07-01 10:00:00", "2026-07-01 10:10:00", "2026-07-01 11:00:00",
                          "2026-07-01 16:00:00", "9号楼1单元101")
    rows += _closed_order("GD2026070700001", "G", "2026-07-07 10:00:00", "2026-07-07 10:10:00", "2026-07-07 11:00:00",
                          "2026-07-07 18:00:00", "10号楼2单元201")
    rows += _closed_order("GD2026071300001", "A", "2026-07-13 08:00:00", "2026-07-13 08:10:00", "2026-07-13 09:00:00",
                          "2026-07-13 18:00:00", "3号楼1单元101", PHONE_X, ("是", "满意", "2026-07-14 10:00:00"))
    rows += _closed_order("GD2026071300002", "B", "2026-07-13 10:00:00", "2026-07-13 10:05:00", "2026-07-13 12:00:00",
                          "2026-07-14 08:00:00", "3号楼2单元202", "", ("是", "满意", "2026-07-15 10:00:00"))
    rows += _closed_order("GD2026071400001", "C", "2026-07-14 09:00:00", "2026-07-14 09:30:00", "2026-07-15 12:00:00",
                          "2026-07-16 09:00:00", "3号楼3单元303", PHONE_X, ("否", "基本满意", "2026-07-16 11:00:00"))
    rows += _order("GD2026071400002", "12345", "D", "2026-07-14 14:00:00", "望园社区", "5号楼1单元101", "13900002222", [
        {"派单时间": "2026-07-14 14:10:00", "办理状态": "已派单", "更新时间": "2026-07-14 14:10:00"},
        {"首次联系时间": "2026-07-14 14:30:00", "办理状态": "办理中", "更新时间": "2026-07-14 14:30:00"},
        {"办理状态": "已退单", "更新时间": "2026-07-14 15:00:00"},
        {"办理状态": "已派单", "更新时间": "2026-07-14 16:00:00"},
        {"办结时间": "2026-07-14 20:00:00", "办理状态": "已办结", "满意度": "未回访", "更新时间": "2026-07-14 20:00:00"},
    ])
    rows += _order("GD2026071600001", "12345", "E", "2026-07-16 08:00:00", "望园社区", "7号楼1单元101", "13900003333", [
        {"派单时间": "2026-07-16 08:10:00", "办理状态": "已派单", "更新时间": "2026-07-16 12:00:00"},
    ])
    p_rows = _order("400-20260714-0001", "400", "P", "2026-07-14 09:00:00", "保利益丰社区", "2号楼1单元101", "13700004444", [
        {"派单时间": "2026-07-14 09:05:00", "办理状态": "已派单", "更新时间": "2026-07-14 09:05:00"},
        {"首次联系时间": "2026-07-14 10:00:00", "办理状态": "办理中", "更新时间": "2026-07-14 10:00:00"},
        {"办结时间": "2026-07-14 17:00:00", "办理状态": "已办结", "更新时间": "2026-07-14 17:00:00"},
        {"是否解决": "否", "满意度": "不满意", "更新时间": "2026-07-15 09:00:00"},
    ])
    for name, content in (("hotline/12345_202607.csv", rows), ("hotline/400_20260714.csv", p_rows)):
        out = io.StringIO()
        writer = csv.DictWriter(out, HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(content)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(out.getvalue(), encoding="utf-8")

    tickets = [
        {"ticket_id": "MP20260714000001", "type": "bill_payment", "submitted_at": "2026-07-14T10:00:00+08:00",
         "updated_at": "2026-07-14T10:01:00+08:00", "community": "保利益丰社区", "title": "物业费缴纳", "content": "2026年物业费",
         "status": "completed", "events": [{"status": "submitted", "at": "2026-07-14T10:00:00+08:00"}]},
        {"ticket_id": "MP20260714000002", "type": "decoration_application", "submitted_at": "2026-07-14T11:00:00+08:00",
         "updated_at": "2026-07-14T11:00:00+08:00", "community": "保利益丰社区", "title": "装修申请", "content": "厨房改造",
         "status": "submitted", "events": [{"status": "submitted", "at": "2026-07-14T11:00:00+08:00"}]},
    ]
    (root / "miniprogram").mkdir(parents=True, exist_ok=True)
    (root / "miniprogram/tickets_20260714.jsonl").write_text(
        "\n".join(json.dumps(t, ensure_ascii=False) for t in tickets) + "\n", encoding="utf-8")

    (root / "reception").mkdir(parents=True, exist_ok=True)
    (root / "reception/reception_望园社区_202607.csv").write_text(
        "望园社区民意接待日登记表（2026年7月）,,,,,,,,,,,\n"
        "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注\n"
        f"1,2026-07-13,敲门,何敏,罗建华,13366001122,望园社区8号楼,{TEXTS['R'][0]},道路设施,报街道城管办,否,\n",
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
    with psycopg.connect(fresh_warehouse) as conn:
        yield conn


def one(conn, sql: str, *params):
    cur = conn.execute(sql, params)
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, (sql, params, rows)
    return dict(zip(names, rows[0]))


def test_governance_marts_on_a_known_scenario(built):
    conn = built
    # every complaint got its category from the stored classification (none fell back to 'other')
    assert conn.execute("select count(*) from marts.fct_complaints where category_code = 'other'").fetchone()[0] == 0
    assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] == 9

    # --- fct_community_daily -------------------------------------------------------------------
    daily = "select * from marts.fct_community_daily where community_id = %s and date_day = %s"
    d13 = one(conn, daily, "wangyuan", "2026-07-13")
    assert (d13["received_total"], d13["received_hotline_12345"], d13["received_reception"]) == (3, 2, 1)
    assert d13["received_proactive"] == 1 and d13["proactive_share"] == Decimal("0.3333")
    assert (d13["closed_count"], d13["open_backlog_end_of_day"], d13["overdue_open_end_of_day"]) == (1, 2, 0)
    d14 = one(conn, daily, "wangyuan", "2026-07-14")
    assert (d14["received_total"], d14["closed_count"], d14["open_backlog_end_of_day"], d14["overdue_open_end_of_day"]) \
        == (2, 2, 2, 0)
    d15 = one(conn, daily, "wangyuan", "2026-07-15")  # C is open and past due at midnight
    assert (d15["received_total"], d15["closed_count"], d15["open_backlog_end_of_day"], d15["overdue_open_end_of_day"]) \
        == (0, 0, 2, 1)
    assert d15["proactive_share"] is None and d15["is_complete_day"] is True
    d16 = one(conn, daily, "wangyuan", "2026-07-16")  # the as-of day: state at 12:00
    assert (d16["received_total"], d16["closed_count"], d16["open_backlog_end_of_day"], d16["overdue_open_end_of_day"]) \
        == (1, 1, 2, 0)
    assert d16["is_complete_day"] is False
    b14 = one(conn, daily, "baoliyifeng", "2026-07-14")
    assert (b14["received_total"], b14["received_hotline_400"], b14["closed_count"]) == (1, 1, 1)
    assert (b14["miniprogram_bill_payments"], b14["miniprogram_decoration_applications"]) == (1, 1)
    # zero-filled: every community of dim_community, every day from the first complaint to the as-of day
    days, communities, rows = conn.execute(
        "select count(distinct date_day), count(distinct community_id), count(*) from marts.fct_community_daily").fetchone()
    assert (days, communities, rows) == (16, 14, 16 * 14)

    # --- mart_issue_category_monthly --------------------------------------------------------------
    monthly = ("select * from marts.mart_issue_category_monthly "
               "where month_start = '2026-07-01' and community_id = %s and category_code = %s")
    for area in ("wangyuan", "street"):
        m = one(conn, monthly, area, "waterlogging")
        assert m["area_level"] == ("street" if area == "street" else "community")
        assert (m["received_count"], m["repeat_address_count"], m["repeat_address_reports"]) == (7, 1, 3)
        assert (m["repeat_complainant_count"], m["repeat_complainant_reports"], m["overdue_count"]) == (1, 2, 1)
        assert m["closed_with_time_count"] == 6
        assert m["median_handling_hours"] == Decimal("9.00")  # 6, 6, 8, 10, 22, 48
        assert (m["resolved_count"], m["resolution_visited_count"], m["resolution_rate"]) == (2, 3, Decimal("0.6667"))
        assert (m["satisfied_count"], m["basically_satisfied_count"], m["satisfaction_points"]) == (2, 1, Decimal("2.5"))
        assert m["satisfaction_rate"] == Decimal("0.8333")
    street_property = one(conn, monthly, "street", "property_service")
    assert (street_property["received_count"], street_property["dissatisfied_count"]) == (1, 1)
    assert street_property["satisfaction_rate"] == Decimal("0.0000")

    # --- mart_three_rates ------------------------------------------------------------------------
    rates = ("select * from marts.mart_three_rates where period_grain = %s and period_start = %s "
             "and community_id = %s and channel_scope = %s")
    w = one(conn, rates, "month", "2026-07-01", "wangyuan", "ranked")
    # E is not yet due for contact; C was contacted 26.5 h after dispatch (limit 24 h)
    assert (w["due_for_contact_orders"], w["contacted_in_time_orders"], w["response_rate"]) == (6, 5, Decimal("0.8333"))
    assert (w["resolved_orders"], w["resolution_visited_orders"], w["resolution_rate"]) == (2, 3, Decimal("0.6667"))
    assert (w["satisfaction_points"], w["satisfaction_visited_orders"], w["satisfaction_rate"]) \
        == (Decimal("2.5"), 3, Decimal("0.8333"))
    assert w["composite_score"] == Decimal("0.7750")  # 0.30 × 5/6 + 0.35 × 2/3 + 0.35 × 5/6
    assert w["received_orders"] == 7  # the door-knocking find is not in the ranked scope
    s = one(conn, rates, "month", "2026-07-01", "street", "ranked")
    assert (s["due_for_contact_orders"], s["contacted_in_time_orders"], s["response_rate"]) == (7, 6, Decimal("0.8571"))
    assert (s["resolution_rate"], s["satisfaction_rate"], s["composite_score"]) \
        == (Decimal("0.5000"), Decimal("0.6250"), Decimal("0.6509"))
    reception = one(conn, rates, "month", "2026-07-01", "wangyuan", "reception")
    assert (reception["received_orders"], reception["resolution_rate"], reception["composite_score"]) == (1, None, None)
    day = one(conn, rates, "day", "2026-07-14", "wangyuan", "ranked")
    assert (day["received_orders"], day["due_for_contact_orders"], day["contacted_in_time_orders"]) == (2, 2, 1)

    # --- mart_sentiment_code ---------------------------------------------------------------------
    code = ("select * from marts.mart_sentiment_code where period_grain = 'week' and period_start = %s "
            "and community_id = %s and category_code = %s")
    spike = one(conn, code, "2026-07-13", "wangyuan", "waterlogging")
    assert (spike["volume"], spike["baseline_periods_used"], spike["baseline_volume"], spike["volume_ratio"]) \
        == (5, 2, Decimal("1.0"), Decimal("5.0"))
    assert (spike["volume_points"], spike["max_reports_same_address"], spike["repeat_address_points"]) == (3, 3, 2)
    assert (spike["overdue_orders"], spike["overdue_points"], spike["returned_orders"], spike["returned_points"]) \
        == (1, 1, 1, 1)
    assert (spike["dissatisfied_points"], spike["forecast_surge_ratio"], spike["forecast_surge_points"]) == (0, None, 0)
    assert (spike["total_points"], spike["grade"], spike["grade_zh"]) == (7, "red", "红码")
    assert spike["reasons"] == "本周5件，为基线1.0件的5.0倍（+3）；同一楼栋重复3次（+2）；超期1件（+1）；退单1件（+1）；计7分，红码"
    # the weeks before: no baseline yet, green
    assert one(conn, code, "2026-07-06", "wangyuan", "waterlogging")["grade"] == "green"
    # the community as a whole: few points of its own, but a red category makes it red
    overall = one(conn, code, "2026-07-13", "wangyuan", "all")
    assert (overall["volume"], overall["proactive_found"], overall["volume_ratio"], overall["volume_points"]) \
        == (5, 1, Decimal("1.7"), 0)
    assert (overall["total_points"], overall["grade_from_points"], overall["worst_category_code"], overall["grade"]) \
        == (1, "green", "waterlogging", "red")
    assert overall["reasons"].endswith("计1分，绿码；类别最高为红码（积水内涝），定为红码")
    monthly_code = one(conn, "select * from marts.mart_sentiment_code where period_grain = 'month' "
                             "and period_start = '2026-07-01' and community_id = 'wangyuan' and category_code = 'waterlogging'")
    assert monthly_code["volume"] == 7 and monthly_code["baseline_volume"] is None  # no month before July in the data

    # --- mart_complaint_grades -------------------------------------------------------------------
    grades = {r[0]: r[1:] for r in conn.execute(
        """select f.source_record_id, g.grade, g.base_grade, g.raise_levels, g.is_repeat_address
           from marts.mart_complaint_grades g join marts.fct_complaints f using (complaint_id)""")}
    assert grades["GD2026071300001"] == ("red", "red", 0, False)   # A: first report from 3号楼
    assert grades["GD2026071300002"] == ("red", "red", 1, True)    # B: repeat address
    assert grades["GD2026071400001"] == ("red", "red", 2, True)    # C: repeat and overdue, capped at red
    assert grades["GD2026070100001"] == ("green", "green", 0, False)
    assert grades["400-20260714-0001"] == ("yellow", "green", 1, False)  # P: 不满意 raises it one level


def _forecast(conn, as_of: str, community: str, category: str, expected: float, baseline: float) -> None:
    conn.execute(
        """insert into ops.forecasts (as_of, community_id, category_code, horizon_start, horizon_end, expected_volume,
               baseline_volume, baseline_days, surge_ratio, recent_volume, is_early_warning, warning_margin,
               min_expected_volume, baseline_floor, model_version)
           values (%s::date, %s, %s, %s::date + 1, %s::date + 7, %s, %s, 364, %s / greatest(%s, 1.0), 0, false,
                   1.5, 3, 1, 'test')""",
        (as_of, community, category, as_of, as_of, expected, baseline, expected, baseline))


def test_the_forecast_surge_of_the_latest_forecast_in_the_week_earns_its_points(built):
    """The sentiment code takes the latest forecast made in the period, up to the run's data horizon:
    road facilities in 望园 had no complaint that week (R was a proactive find), but a forecast of
    6 against a baseline of 2 is 3.0× — 2 points (tiers 1.5 / 2.5 in the seed), yellow."""
    conn = built
    _forecast(conn, "2026-07-14", "wangyuan", "road_facilities", 1.0, 2.0)   # older: superseded
    _forecast(conn, "2026-07-15", "wangyuan", "road_facilities", 6.0, 2.0)   # the latest in the week
    _forecast(conn, "2026-07-15", "wangyuan", "waterlogging", 2.0, 2.0)
    _forecast(conn, "2026-07-18", "wangyuan", "road_facilities", 50.0, 1.0)  # after the data horizon: unseen
    conn.commit()
    outcome = build(as_of=AS_OF, select="mart_sentiment_code+")
    assert outcome.success, outcome.failures
    code = ("select * from marts.mart_sentiment_code where period_grain = 'week' and period_start = '2026-07-13' "
            "and community_id = 'wangyuan' and category_code = %s")
    road = one(conn, code, "road_facilities")
    assert (road["volume"], road["forecast_volume_next_period"], road["forecast_surge_ratio"]) \
        == (0, Decimal("6.00"), Decimal("3.0"))
    assert (road["forecast_surge_points"], road["total_points"], road["grade"]) == (2, 2, "yellow")
    assert "预计下期为基线的3.0倍（+2）" in road["reasons"]
    water = one(conn, code, "waterlogging")
    assert (water["forecast_surge_ratio"], water["forecast_surge_points"], water["total_points"]) \
        == (Decimal("1.0"), 0, 7)
    overall = one(conn, code, "all")  # (6 + 2) / (2 + 2) = 2.0: 2 points on the community tiers (1.3 / 1.6)
    assert (overall["forecast_volume_next_period"], overall["forecast_surge_ratio"], overall["forecast_surge_points"]) \
        == (Decimal("8.00"), Decimal("2.0"), 2)
    before = one(conn, "select * from marts.mart_sentiment_code where period_grain = 'week' "
                       "and period_start = '2026-07-06' and community_id = 'wangyuan' and category_code = 'road_facilities'")
    assert (before["forecast_surge_ratio"], before["forecast_surge_points"]) == (None, 0)
