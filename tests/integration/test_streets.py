"""Integration: several streets in one warehouse (issue 23), through ingest, validation and `dbt build`, against
real Postgres: each complaint's street, the three rates per street, and the monthly ranking with its classes.

The seeds ship one street (六里桥街道). A district adds its streets to reference/streets.csv, communities.csv and
the aliases; here four made-up streets (names invented) and a community each are added to the loaded seed
tables, as those files would load them, before the marts are built. Their work orders name no 所属街道
(the hotline's suite accepts only the seed files' spellings), so the community places them.

Each street has four 12345 orders a month in June and July 2026, all contacted in time, of which k were
resolved and satisfied and 4 - k neither: k by street, June then July —

    六里桥 1, 4    晓月 0, 3    槐园 2, 2    榆树 3, 1    柳溪 4, 0

so July ranks 六里桥 first (先进类), 晓月 second (up three places from fifth: 进步类), 槐园 third (no class),
榆树 fourth (整改类) and 柳溪 fifth (治理类), by the shares of seeds/ranking_classes.csv over five streets.
One more order names 卢沟桥街道, a street this warehouse does not serve: validation quarantines it.
"""

from __future__ import annotations

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import pipeline, transform

from conftest import HOTLINE_HEADER, migrated_database, store_classifications, write_csv

AS_OF = "2026-08-01T00:00:00+08:00"
TEXT = ("小区垃圾没人清运，堆了好几天", "sanitation")
# street_id: (name, community_id, community name, resolved and satisfied orders in June, in July)
STREETS = {
    "liuliqiao": ("六里桥街道", "wangyuan", "望园社区", 1, 4),
    "xiaoyue": ("晓月街道", "xiaoyue_yi", "晓月一社区", 0, 3),
    "huaiyuan": ("槐园街道", "huaiyuan_yi", "槐园一社区", 2, 2),
    "yushu": ("榆树街道", "yushu_yi", "榆树一社区", 3, 1),
    "liuxi": ("柳溪街道", "liuxi_yi", "柳溪一社区", 4, 0),
}
EXPECTED_JULY = {  # street: (rank, class, previous rank)
    "liuliqiao": (1, "advanced", 4), "xiaoyue": (2, "progress", 5), "huaiyuan": (3, None, 3),
    "yushu": (4, "rectification", 2), "liuxi": (5, "governance", 1),
}


def _orders() -> list[dict]:
    rows, n = [], 0
    for street_id, (street, _, community, june, july) in STREETS.items():
        for month, good in (("06", june), ("07", july)):
            for i in range(4):
                n += 1
                day = f"2026-{month}-{10 + i:02d}"
                rows.append({
                    "工单编号": f"GD2026{month}{10 + i:02d}{n:05d}", "来源": "12345", "来电时间": f"{day} 09:00:00",
                    "诉求人": "李明", "联系电话": f"1390000{n:04d}", "诉求类型": "投诉", "诉求内容": TEXT[0],
                    "诉求地址": f"丰台区{community}{i + 1}号楼",
                    # the seed's street names its own; the added streets' orders leave it to the community
                    "所属街道": street if street_id == "liuliqiao" else "", "所属社区": community,
                    "承办单位": "街道办事处", "派单时间": f"{day} 09:10:00", "首次联系时间": f"{day} 09:40:00",
                    "办结时间": f"{day} 17:00:00", "办理状态": "已办结", "是否解决": "是" if i < good else "否",
                    "满意度": "满意" if i < good else "不满意", "更新时间": f"{day} 18:00:00"})
    rows.append({**rows[0], "工单编号": "GD2026071599999", "所属街道": "卢沟桥街道", "诉求地址": "丰台区卢沟桥街道某社区1号楼",
                 "所属社区": "", "联系电话": "13900009999"})
    return rows


@pytest.fixture(scope="module")
def streets(server_url, tmp_path_factory):
    landing = tmp_path_factory.mktemp("streets") / "landing"
    write_csv(landing / "hotline" / "hotline_20260731.csv", HOTLINE_HEADER, _orders())
    with migrated_database(server_url, prefix="minqing_streets") as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        ingest(landing, progress=False)
        pipeline.record_run("run_streets", pipeline.day_of_moment(AS_OF), "cli", "running", as_of=AS_OF)
        validation = pipeline.validate_channel("hotline", "run_streets")
        with psycopg.connect(url, autocommit=True) as conn:
            store_classifications(conn, [TEXT])
        # the seeds as shipped, then the district's other streets, as its seed files would load them
        assert transform.run_dbt("seed").success
        with psycopg.connect(url, autocommit=True) as conn:
            for street_id, (street, community_id, community, _, _) in STREETS.items():
                if street_id == "liuliqiao":
                    continue
                conn.execute("insert into reference.streets values (%s, %s, '丰台区', true, 'test: names invented')",
                             (street_id, street))
                conn.execute("insert into reference.communities (community_id, street_id, community_name, community_type, "
                             "property_management, on_miniprogram) values (%s, %s, %s, 'older_estate', 'weak', false)",
                             (community_id, street_id, community))
                conn.execute("insert into reference.community_aliases (alias, community_id) values (%s, %s)",
                             (community, community_id))
        outcome = transform.build(as_of=AS_OF, selector="before_forecast_seeds_loaded")
        assert outcome.success, outcome.failures
        # and the marts after the forecast, the link stage and the effects stage, as a run builds them
        pipeline.forecast()
        pipeline.link()
        pipeline.effects()
        pipeline.build_after_forecast(AS_OF)
        yield {"url": url, "validation": validation, "outcome": outcome}


def _rows(url: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_each_complaint_has_its_communitys_street_and_an_unknown_street_is_quarantined(streets):
    url = streets["url"]
    per_street = dict(_rows(url, "select street_id, count(*) from marts.fct_complaints group by 1"))
    assert per_street == {street_id: 8 for street_id in STREETS}
    quarantined = _rows(url, "select source_record_id, reason from raw.quarantine where stage = 'validate'")
    assert [record for record, _ in quarantined] == ["GD2026071599999"]
    assert "所属街道" in quarantined[0][1] and "卢沟桥街道" in quarantined[0][1]
    assert streets["validation"]["rows_quarantined"] == 1
    assert {s for (s,) in _rows(url, "select street_id from marts.dim_street")} == {*STREETS, "unresolved"}


def test_the_three_rates_are_per_street(streets):
    rows = dict(_rows(streets["url"], """
        select street_id, resolution_rate from marts.mart_three_rates
        where period_grain = 'month' and period_start = '2026-07-01' and area_level = 'street'
          and channel_scope = 'ranked'"""))
    assert rows == {street_id: pytest.approx(july / 4) for street_id, (*_, july) in STREETS.items()}


def test_each_streets_briefing_has_its_own_three_rates(streets):
    """The briefing of each street (issue 23) shows its own rates, the ranking's; the district's sums the five."""
    rows = _rows(streets["url"], """select street_id, value from marts.rpt_dispatch_briefing
                                     where section = 'three_rates' and metric = 'resolution_rate'""")
    assert dict(rows) == {**{street_id: pytest.approx(july / 4) for street_id, (*_, july) in STREETS.items()},
                          None: pytest.approx(sum(july for *_, july in STREETS.values()) / 20)}


def test_the_streets_are_ranked_and_classed_and_the_ranking_reproduces_from_its_figures(streets):
    july = {row[0]: row[1:] for row in _rows(streets["url"], """
        select street_id, street_rank, rank_class, previous_rank, streets_ranked, classes_given
        from marts.mart_street_ranking where month_start = '2026-07-01'""")}
    assert {s: v[:3] for s, v in july.items()} == EXPECTED_JULY
    assert all(v[3:] == (5, True) for v in july.values())
    assert _rows(streets["url"], "select rank_class_zh from marts.mart_street_ranking where street_id = 'liuxi' "
                                 "and month_start = '2026-07-01'") == [("治理类",)]
    # the dbt test that recomputes composite, rank and class from the row's own figures ran, and passed
    ran = {r["node"]: r["status"] for r in streets["outcome"].results}
    assert ran["test.minqing.assert_street_ranking_reproducible"] == "pass"


# every mart that carries street_id since issue 23's second part (the first: fct_complaints, the daily counts,
# the three rates, the ranking and the dimensions)
STREET_MARTS = {
    "fct_daily_reports_by_key", "mart_classification_review", "mart_delivery_status", "fct_complaint_status_events",
    "mart_hotline_category_agreement", "fct_community_category_daily", "fct_community_daily",
    "fct_monthly_handling_hours", "mart_complaint_grades", "mart_issue_category_monthly", "mart_sentiment_code",
    "mart_intervention_effects", "fct_complaint_links", "fct_problem_reports", "fct_problems",
    "mart_high_frequency_problems", "mart_monthly_theme_candidates", "mart_problem_rates", "rpt_early_warnings",
    "rpt_open311_requests",
    "rpt_dispatch_briefing",  # a street's own briefing rows; the district's (street_id null) are no street's
}


def _street_marts(url: str) -> set[str]:
    return {t for (t,) in _rows(url, """select table_name from information_schema.columns
                                         where table_schema = 'marts' and column_name = 'street_id'""")}


def test_a_street_login_reads_its_own_street_only(streets, monkeypatch):
    """`minqing access street-user NAME --street ID`: row-level security by street on every mart with a
    street_id — each such mart of the warehouse, found in the catalogue, the briefing's street rows among them
    (never the district's); the marts without one stay closed to it."""
    from psycopg import errors
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from minqing.publishing import access

    url = streets["url"]
    monkeypatch.setenv("WAREHOUSE_URL", url)
    access.street_user("test_street_xiaoyue", street_id="xiaoyue")
    params = conninfo_to_dict(url)
    params["user"] = "test_street_xiaoyue"
    with_street = _street_marts(url)
    own_briefing_rows, district_rows = _rows(url, """select count(*) filter (where street_id = 'xiaoyue'),
                                                            count(*) filter (where street_id is null)
                                                     from marts.rpt_dispatch_briefing""")[0]
    assert own_briefing_rows > 0 and district_rows > 0
    assert with_street >= STREET_MARTS | {"fct_complaints", "fct_daily_complaint_counts", "mart_three_rates",
                                          "mart_street_ranking", "dim_street", "dim_community"}
    # the marts still without street_id: those the next part of issue 23 leaves
    published = {t for (t,) in _rows(url, "select table_name from information_schema.tables where table_schema = 'marts'")}
    without = published - with_street
    with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
        for table in sorted(with_street - {"dim_community"}):
            seen = conn.execute(f"select array_agg(distinct street_id) from marts.{table}").fetchone()[0]
            assert seen in (["xiaoyue"], None), (table, seen)  # None: no row of its street in this mart
        for table in ("fct_complaints", "fct_daily_complaint_counts", "mart_three_rates", "mart_street_ranking",
                      "dim_street", "fct_community_daily", "mart_issue_category_monthly", "fct_problem_reports",
                      "mart_delivery_status", "fct_complaint_status_events"):
            assert conn.execute(f"select array_agg(distinct street_id) from marts.{table}").fetchone()[0] \
                == ["xiaoyue"], table
        assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] == 8
        assert conn.execute("select array_agg(community_id) from marts.dim_community").fetchone()[0] == ["xiaoyue_yi"]
        # its street's briefing, every row of it, and none of the district's (street_id null)
        assert conn.execute("select count(*), count(*) filter (where street_id is null) "
                            "from marts.rpt_dispatch_briefing").fetchone() == (own_briefing_rows, 0)
        for closed in [f"marts.{t}" for t in sorted(without)] + ["raw.quarantine"]:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(f"select * from {closed} limit 1")
    with pytest.raises(ValueError, match="unknown street"):
        access.street_user("test_street_xiaoyue", street_id="nowhere")
    # without --street: the district's (or a one-street install's) center, every row
    access.street_user("test_street_xiaoyue")
    with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] == 40
        conn.execute("select * from marts.mart_issue_category_monthly limit 1")
        assert conn.execute("select count(*) filter (where street_id is null) from marts.rpt_dispatch_briefing"
                            ).fetchone()[0] == district_rows


def test_the_street_rows_of_a_mart_add_up_to_the_warehouse(streets):
    """A mart that summed the warehouse has a row per street now (issue 23): the streets' rows add up to the
    warehouse's figures, counted from the complaints, and no street row counts another street's."""
    url = streets["url"]
    monthly = dict(_rows(url, """select street_id, sum(received_count) from marts.mart_issue_category_monthly
                                   where area_level = 'street' group by 1"""))
    assert monthly == {street_id: 8 for street_id in STREETS}
    total = _rows(url, "select count(*) from marts.fct_complaints")[0][0]
    assert sum(monthly.values()) == total == 40
    # community rows add up to their street's row, month by month and category by category
    assert _rows(url, """select count(*) from (
        select month_start, street_id, category_code,
               sum(received_count) filter (where area_level = 'community') as communities,
               sum(received_count) filter (where area_level = 'street') as street
        from marts.mart_issue_category_monthly group by 1, 2, 3) as sums
        where communities is distinct from street""") == [(0,)]
    daily = dict(_rows(url, "select street_id, sum(received_total) from marts.fct_community_daily group by 1"))
    assert daily == {street_id: 8 for street_id in STREETS}
    # each street's delivery rows: the hotline export is every street's, the same file once per street
    deliveries = _rows(url, """select delivery_id, covers_day, count(distinct street_id), count(distinct files)
                                 from marts.mart_delivery_status where community_id is null group by 1, 2""")
    assert deliveries and all(streets_ == len(STREETS) and files == 1 for _, _, streets_, files in deliveries)
