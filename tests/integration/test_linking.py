"""Integration: reports of one problem linked across channels and days (issue 19), on a hand-made landing
folder through ingest, `dbt build`, the link stage and the problem marts, against real Postgres.

The scenario (Beijing time), 望园社区 × 排水管道 (drainage), the categories pinned as the classifier would
store them:

  R1  07-10        a patrol (巡查) finds a burst pipe in 3号楼's stairwell               reception
  H1  07-10 09:05  a resident (phone X) calls about it                                12345, still open
  H2  07-10 11:30  another resident (phone Y) calls about it                           12345, closed
  N1  07-10 14:00  3号楼's sewer smells — the same building and category, another problem  12345
  O1  07-10 15:00  the burst pipe's words at 5号楼: another building, another problem      12345
  H3  07-11 08:00  phone X again: nothing happened                                      12345
  M1  07-10 10:00  8号楼's septic tank overflows                                        12345
  M2  07-10 16:00  8号楼's septic tank, other words (too unlike M1 to link)               12345
  M3  07-11 09:00  8号楼's septic tank in both reports' words: merges M2's problem into M1's
  B0  07-09 20:00  a backfilled report of 3号楼's burst pipe (its file comes last)         12345

Expected: {R1, H1, H2, H3} one problem, found by the patrol first (未诉先办); N1 and O1 alone; M3 joins
M1's problem and merges M2's into it (the older survives); the backfilled B0 joins the burst pipe's
problem without changing its id.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingestion.loader import ingest
from minqing import pipeline
from minqing.publishing import access
from minqing.transform import build, run_dbt

from conftest import HOTLINE_HEADER, new_database, store_classifications, write_csv

AS_OF_10, AS_OF_11 = "2026-07-10T24:00:00+08:00", "2026-07-11T24:00:00+08:00"
WY = "望园社区"
PHONES = {"X": "13800001111", "Y": "13800002222", "Z": "13800003333", "W": "13800004444", "V": "13800005555"}

TEXTS = {
    "R1": "3号楼楼道水管爆裂漏水 水流了一地",
    "H1": "望园社区3号楼楼道的水管爆裂了，水流了一地，没人管",
    "H2": "3号楼楼道水管爆裂漏水，楼梯上全是水",
    "N1": "3号楼下水道返味，臭气熏天",
    "O1": "5号楼楼道水管爆裂漏水，水流了一地",
    "H3": "3号楼楼道水管爆裂漏水还没修，水流了一地，第二次反映",
    "M1": "8号楼化粪池满溢，污水横流",
    "M2": "8号楼化粪池冒了，臭味熏人",
    "M3": "8号楼化粪池满溢冒了，污水横流，臭味熏人",
    "B0": "3号楼楼道水管爆裂，水流了一地",
}


def _order(order_id: str, key: str, received: str, address: str, phone: str, closed: str | None = None) -> dict:
    row = {"工单编号": order_id, "来源": "12345", "来电时间": received, "诉求人": "王芳", "联系电话": PHONES[phone],
           "诉求类型": "投诉", "诉求内容": TEXTS[key], "诉求地址": f"丰台区六里桥街道{WY}{address}",
           "所属街道": "六里桥街道", "所属社区": WY, "问题分类": "", "承办单位": "六里桥街道",
           "派单时间": received, "办理状态": "已派单", "更新时间": received}
    if closed:
        row.update({"办结时间": closed, "办理状态": "已办结", "更新时间": closed})
    return row


def write_day_10(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260710.csv", HOTLINE_HEADER, [
        _order("GD2026071000001", "H1", "2026-07-10 09:05:00", "3号楼2单元", "X"),
        _order("GD2026071000002", "H2", "2026-07-10 11:30:00", "3号楼", "Y", closed="2026-07-10 18:00:00"),
        _order("GD2026071000003", "N1", "2026-07-10 14:00:00", "3号楼", "Z"),
        _order("GD2026071000004", "O1", "2026-07-10 15:00:00", "5号楼", "W"),
        _order("GD2026071000005", "M1", "2026-07-10 10:00:00", "8号楼", "V"),
        _order("GD2026071000006", "M2", "2026-07-10 16:00:00", "8号楼", "Z"),
    ])
    (landing / "reception").mkdir(parents=True, exist_ok=True)
    (landing / "reception/reception_望园社区_202607.csv").write_text(
        "望园社区民意接待日登记表（2026年7月）,,,,,,,,,,,\n"
        "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注\n"
        f"1,2026-07-10,巡查,何敏,,,望园社区3号楼,{TEXTS['R1']},排水,已上报,否,\n", encoding="utf-8")


def write_day_11(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260711.csv", HOTLINE_HEADER, [
        _order("GD2026071100001", "H3", "2026-07-11 08:00:00", "3号楼2单元", "X"),
        _order("GD2026071100002", "M3", "2026-07-11 09:00:00", "8号楼", "Y"),
    ])


def write_backfill(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260709.csv", HOTLINE_HEADER, [
        _order("GD2026070900001", "B0", "2026-07-09 20:00:00", "3号楼", "Y"),
    ])


def run_day(url: str, landing: Path, as_of: str) -> dict:
    """What a daily run does around the link stage: ingest, the first dbt part, link, the second part."""
    reports = ingest(landing, progress=False)
    assert all(r.rows_quarantined == 0 for r in reports), [r.as_json() for r in reports]
    outcome = build(as_of=as_of, selector=pipeline.BEFORE_FORECAST)
    assert outcome.success, outcome.failures
    linked = pipeline.link()
    outcome = build(as_of=as_of, selector=pipeline.AFTER_FORECAST)
    assert outcome.success, outcome.failures
    return linked


ORDER_KEYS = {"GD2026071000001": "H1", "GD2026071000002": "H2", "GD2026071000003": "N1", "GD2026071000004": "O1",
              "GD2026071000005": "M1", "GD2026071000006": "M2", "GD2026071100001": "H3", "GD2026071100002": "M3",
              "GD2026070900001": "B0"}


def problems_of(conn) -> dict[str, str]:
    """The scenario's key (R1 for the one reception entry, else the work order's) -> problem_id."""
    rows = conn.execute("""select c.source_channel, c.source_record_id, r.problem_id from marts.fct_problem_reports r
                           join marts.fct_complaints c using (complaint_id)""").fetchall()
    return {"R1" if channel == "reception" else ORDER_KEYS[record]: problem for channel, record, problem in rows}


@pytest.fixture(scope="module")
def scenario(server_url, tmp_path_factory):
    landing = tmp_path_factory.mktemp("linking") / "landing"
    with pytest.MonkeyPatch.context() as patch, new_database(server_url, patch) as url:
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        with psycopg.connect(url, autocommit=True) as conn:
            store_classifications(conn, [(text, "drainage") for text in TEXTS.values()])
        write_day_10(landing)
        first = run_day(url, landing, AS_OF_10)
        with psycopg.connect(url, autocommit=True) as conn:
            after_10 = problems_of(conn)
        write_day_11(landing)
        second = run_day(url, landing, AS_OF_11)
        yield {"url": url, "landing": landing, "after_10": after_10, "runs": [first, second]}


def test_reports_of_one_problem_are_one_problem_and_near_misses_stay_apart(scenario):
    with psycopg.connect(scenario["url"]) as conn:
        problem = problems_of(conn)
    assert len(problem) == 9  # every demand is in exactly one problem (fct_problem_reports' unique key)
    assert problem["R1"] == problem["H1"] == problem["H2"] == problem["H3"]
    assert len({problem["R1"], problem["N1"], problem["O1"], problem["M1"]}) == 4
    # the day before, H1 and H2 had already joined the patrol's problem; the id stayed
    assert scenario["after_10"]["H1"] == scenario["after_10"]["R1"] == problem["R1"]


def test_a_report_linking_two_problems_merges_them_into_the_older(scenario):
    before, after = scenario["after_10"], None
    with psycopg.connect(scenario["url"]) as conn:
        after = problems_of(conn)
        merged = conn.execute("select merged_into, merged_by is not null from ops.problems where problem_id = %s",
                              (before["M2"],)).fetchone()
        survivor = conn.execute("select merged_problem_ids from marts.fct_problems where problem_id = %s",
                                (before["M1"],)).fetchone()[0]
    assert before["M1"] != before["M2"]  # too unlike to link on the first day
    assert after["M1"] == after["M2"] == after["M3"] == before["M1"]  # the older problem survives
    assert merged == (before["M1"], True)
    assert survivor == [before["M2"]]
    assert scenario["runs"][1]["merged"] == 1


def test_the_patrol_found_it_first_and_how_far_ahead(scenario):
    with psycopg.connect(scenario["url"]) as conn:
        problem = problems_of(conn)
        row = conn.execute("""select first_channel, found_by_rounds_first, first_proactive_method, lead_hours,
                                     report_count, complainant_count, channel_count, channels, is_open,
                                     repeat_report_count
                              from marts.fct_problems where problem_id = %s""", (problem["R1"],)).fetchone()
        rates = conn.execute("""select reports, repeat_reports, problems, problems_found_first
                                from marts.mart_problem_rates where community_id = 'wangyuan'""").fetchone()
    first_channel, found_first, method, lead, reports, people, channels, channel_list, is_open, repeats = row
    assert (first_channel, found_first, method) == ("reception", True, "patrol")
    assert lead is not None and lead > 0  # the patrol's day, before the 09:05 call
    assert (reports, people, channels, channel_list, is_open) == (4, 2, 2, "hotline_12345,reception", True)
    # H1 came while the patrol's find was open, H2 and H3 while H1 was: three repeats of an open problem
    assert repeats == 3
    # 9 reports; 5 repeats (H1, H2, H3, and M2 and M3 of the merged septic tank, M1 being open); 4 problems
    # (the burst pipe, N1, O1, the septic tank), 1 found by the rounds first
    assert rates == (9, 5, 4, 1)


def test_the_high_frequency_list_and_the_monthly_candidates_count_problems(scenario):
    with psycopg.connect(scenario["url"]) as conn:
        listed = conn.execute("""select report_count, problem_count, reasons from marts.mart_high_frequency_problems
                                 where window_days = 7 and problem_level = 'community_category'
                                   and community_id = 'wangyuan' and category_code = 'drainage'""").fetchone()
        building = conn.execute("""select report_count, problem_count from marts.mart_high_frequency_problems
                                   where window_days = 7 and address_key = 'wangyuan:3'""").fetchone()
        themes = conn.execute("""select candidate_level, volume, problem_count from marts.mart_monthly_theme_candidates
                                 where month_start = '2026-07-01' and category_code = 'drainage'
                                 order by candidate_level""").fetchall()
    assert listed[:2] == (9, 4) and "合并为4个问题" in listed[2]
    assert building == (5, 2)  # R1, H1, H2, H3 (the burst pipe) and N1 (the sewer) at 3号楼
    assert themes == [("community_category", 9, 4), ("street_category", 9, 4)]


def test_links_carry_scores_and_rules_and_no_personal_data(scenario):
    with psycopg.connect(scenario["url"]) as conn:
        columns = [r[0] for r in conn.execute("""select column_name from information_schema.columns
                                                 where table_schema = 'marts' and table_name = 'fct_complaint_links'""")]
        rows = conn.execute("select * from marts.fct_complaint_links").fetchall()
        rules = {r[0] for r in conn.execute("select distinct link_rule from marts.fct_complaint_links")}
    assert rows and rules <= {"same_resident", "similar_report"}
    assert "same_resident" in rules  # phone X's second call
    assert columns == ["complaint_id", "linked_to_complaint_id", "problem_id", "community_id", "category_code",
                       "received_at", "link_rule", "link_score", "text_score", "address_score", "same_building",
                       "same_complainant", "hours_apart", "linked_at"]  # ids, scores, flags and moments
    flat = "|".join(str(v) for row in rows for v in row)
    assert not any(p in flat for p in PHONES.values()) and "号楼" not in flat and "水管" not in flat


def test_a_rerun_changes_nothing_and_linking_again_gives_the_same_problems(scenario):
    url = scenario["url"]
    with psycopg.connect(url) as conn:
        before = problems_of(conn)
    assert run_day(url, scenario["landing"], AS_OF_11)["reports"] == 0
    with psycopg.connect(url) as conn:
        assert problems_of(conn) == before
    pipeline.link(rebuild=True)  # every report again, in order of receipt: deterministic
    assert build(as_of=AS_OF_11, selector=pipeline.AFTER_FORECAST).success
    with psycopg.connect(url) as conn:
        again = problems_of(conn)
    assert again == before


def test_a_full_refresh_keeps_the_problem_ids(scenario):
    url = scenario["url"]
    with psycopg.connect(url) as conn:
        before = problems_of(conn)
    assert run_dbt("build", "--full-refresh", as_of=AS_OF_11).success
    assert pipeline.link()["reports"] == 0  # fct_complaints rebuilt whole: every key checked, none changed
    with psycopg.connect(url) as conn:
        assert problems_of(conn) == before


def test_a_backfilled_earlier_report_joins_without_changing_the_id(scenario):
    url = scenario["url"]
    with psycopg.connect(url) as conn:
        before = problems_of(conn)
    write_backfill(scenario["landing"])
    run_day(url, scenario["landing"], AS_OF_11)
    with psycopg.connect(url) as conn:
        after = problems_of(conn)
        first, found_first = conn.execute("""select first_complaint_id = (select complaint_id from marts.fct_complaints
                                                                         where source_record_id = 'GD2026070900001'),
                                                    found_by_rounds_first
                                             from marts.fct_problems where problem_id = %s""", (before["R1"],)).fetchone()
    assert after["B0"] == before["R1"] and {k: after[k] for k in before} == before
    assert first and not found_first  # a resident called first after all: the rounds were not first


def test_community_staff_see_their_own_problems_only(scenario, monkeypatch):
    url = scenario["url"]
    monkeypatch.setenv("WAREHOUSE_URL", url)
    tables = ("fct_problems", "fct_problem_reports", "fct_complaint_links", "mart_problem_rates")
    with psycopg.connect(url) as conn:
        total = {t: conn.execute(f"select count(*) from marts.{t} where community_id = 'wangyuan'").fetchone()[0]
                 for t in tables}
    assert all(total.values())
    for community, expected in (("liunan", dict.fromkeys(tables, 0)), ("wangyuan", total)):
        access.community_user("test_staff_problems", community)
        params = conninfo_to_dict(url)
        params["user"] = "test_staff_problems"
        with psycopg.connect(make_conninfo(**params)) as conn:
            seen = {t: conn.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}
        assert seen == expected, community
