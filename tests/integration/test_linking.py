"""Integration: reports of one problem linked across channels and days (issue 19), on a hand-made landing
folder through ingest, `dbt build`, the link stage and the problem marts, against real Postgres.

The scenario: tests/linking_scenario.py (the 望园社区 burst pipe, its repeats and near-misses).

Expected: {R1, H1, H2, H3} one problem, found by the patrol first (未诉先办); N1 and O1 alone; M3 joins
M1's problem and merges M2's into it (the older survives); the backfilled B0 joins the burst pipe's
problem without changing its id.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from minqing import pipeline
from minqing.analytics import linking
from minqing.publishing import access
from minqing.transform import build, run_dbt

from linking_scenario import (AS_OF_10, AS_OF_11, PHONES, problems_of, run_day, scenario_database, write_backfill,
                              write_day_10, write_day_11)


@pytest.fixture(scope="module")
def scenario(server_url, tmp_path_factory):
    landing = tmp_path_factory.mktemp("linking") / "landing"
    with scenario_database(server_url) as url:
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
    assert rules <= {"same_resident", "similar_report"}
    # the evidence kept: each report's best link into the problem it joined (H1, H2, H3, M3 into M1's) and
    # M3's into the problem it merged (M2's): 9 reports, 5 problems made, one merge
    assert len(rows) == 5
    assert columns == ["complaint_id", "linked_to_complaint_id", "problem_id", "community_id", "street_id",
                       "category_code", "received_at", "link_rule", "link_score", "text_score", "address_score", "same_building",
                       "same_complainant", "shared_kinds", "same_category", "hours_apart", "linked_at", "built_at"]  # ids, scores, flags,
    # the kinds both texts name (labels of the seed problem_kinds) and moments
    kinds = {label for kinds in linking.problem_kinds().values() for label in kinds.labels}
    assert all(set(row[columns.index("shared_kinds")]) <= kinds for row in rows)
    flat = "|".join(str(v) for row in rows for v in row)
    assert not any(p in flat for p in PHONES.values()) and "号楼" not in flat and "水管" not in flat


def test_each_linked_report_keeps_its_blocks_for_the_runs_after(scenario):
    """ops.problem_member_blocks: the block of its own category for every linked report (and those of its
    candidate categories), at its building or, naming none, at 'community:?', where a later day's reports
    find it."""
    excluded = list(linking.Rules.from_settings().exclude_communities)
    with psycopg.connect(scenario["url"]) as conn:
        members = conn.execute(
            "select count(*) from ops.problem_members m join marts.fct_complaints c using (complaint_id) "
            "where c.community_id <> all(%s) and c.category_code is not null", (excluded,)).fetchone()[0]
        own = conn.execute("""
            select count(*), count(*) filter (where k.place_key = c.address_key or k.place_key = c.community_id || ':?')
            from ops.problem_member_blocks k join marts.fct_complaints c using (complaint_id, community_id, category_code)
            where k.own""").fetchone()
    assert own == (members, members) and members > 0


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


def test_linking_in_batches_gives_the_same_problems_and_a_report_meets_at_most_its_candidates(scenario, monkeypatch):
    """The stage links in batches of receipt order and scores a place's reports a few at a time (memory on a
    city's history): one report per batch gives the problems of one batch. And each report is compared with
    at most `max_candidates` others (a day's cost bounded by the day, not by history)."""
    url = scenario["url"]
    with psycopg.connect(url) as conn:
        before = problems_of(conn)
    monkeypatch.setattr(linking, "BATCH_REPORTS", 1)
    monkeypatch.setattr(linking, "BATCH_PLACE", 1)
    result = linking.link(rebuild=True)
    assert build(as_of=AS_OF_11, selector=pipeline.AFTER_FORECAST).success
    with psycopg.connect(url) as conn:
        assert problems_of(conn) == before
        bounded = linking.link(linking.Rules.from_settings({"max_candidates": 1}), conn, rebuild=True)
        conn.rollback()
    assert result.reports == bounded.reports == len(before)
    assert 0 < bounded.compared <= bounded.reports < result.compared


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
