"""The link stage's parts that need no database (minqing/analytics/linking.py, issue 19), and the
hand-labelled hard pairs `minqing link-eval` measures the rules on."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from minqing.analytics import linking
from minqing.devtools import link_eval


@pytest.mark.parametrize("address, place", [
    ("丰台区六里桥街道望园社区3号楼2单元502", "3号楼2单元502"),
    ("北京市丰台区六里桥街道靛厂村西边的平房区", "西边的平房区"),
    ("小区东门", "小区东门"),
    (None, ""),
])
def test_an_address_is_read_after_the_district_street_and_community(address, place):
    assert linking.clean_address(address) == place


def test_a_home_is_a_building_unit_and_room_however_it_is_written():
    assert linking.home_of("3号楼2单元502") == linking.home_of("3-2-502") == ("3", "2", "502")
    assert linking.home_of("3号楼2单元") is None and linking.home_of("小区东门") is None


def test_what_a_report_says_leaves_out_where():
    assert linking.what_of("3号楼2单元楼道水管爆裂，5层漏水", "3号楼2单元") == "楼道水管爆裂，漏水"
    assert linking.what_of("小区东门广场舞扰民", "小区东门") == "广场舞扰民"


def test_the_building_of_an_address_key():
    assert linking._building("wangyuan:3") == "3"
    assert linking._building("wangyuan:?") is None and linking._building(None) is None


def test_a_pair_scores_by_the_weights_in_force_and_different_buildings_are_never_compared():
    rules = linking.Rules.from_settings()
    a = pd.DataFrame({"text": ["楼道水管爆裂漏水", "楼道水管爆裂漏水"], "address": ["3号楼", "3号楼"],
                      "address_key": ["wangyuan:3", "wangyuan:3"], "source_channel": ["reception", "reception"]})
    b = pd.DataFrame({"text": ["楼道的水管爆裂了", "楼道水管爆裂漏水"], "address": ["3号楼2单元", "5号楼"],
                      "address_key": ["wangyuan:3", "wangyuan:5"], "source_channel": ["hotline_12345", "hotline_12345"]})
    parts = linking.score_pairs(rules, a, b, [False, False])
    assert parts["compared"].tolist() == [True, False]
    first = parts.iloc[0]
    assert first["address_score"] == 1.0 and bool(first["same_building"]) and 0 < first["text_score"] < 1
    # a staff note against a resident's call: the weights of that pair of registers (settings.yml)
    w, between = rules.weights, rules.between_registers["call-staff"]
    assert first["score"] == pytest.approx(between["text"] * first["text_score"] + between["offset"]
                                           + w["address"] + w["same_building"])
    # two notes of the same register: the shared weights
    same = linking.score_pairs(rules, a.iloc[:1], a.iloc[1:].reset_index(drop=True), [False]).iloc[0]
    assert same["score"] == pytest.approx(w["text"] * same["text_score"] + w["address"] + w["same_building"])


def test_across_registers_a_short_note_held_by_a_long_call_scores_as_held():
    """A patrol's four characters (3号楼停水) inside a call's forty: their cosine is low because the call says
    much more; across registers the score is the share of the note the call holds. Two calls keep their cosine."""
    rules = linking.Rules.from_settings()
    note = pd.DataFrame({"text": ["3号楼停水"], "address": ["3号楼"], "address_key": ["wangyuan:3"],
                         "source_channel": ["reception"]})
    call = pd.DataFrame({"text": ["来电人表示3号楼突然停水了，也没提前通知，一家人饭都做不了，有小半年了，家里有病人"],
                         "address": ["3号楼"], "address_key": ["wangyuan:3"], "source_channel": ["hotline_12345"]})
    other = pd.DataFrame({"text": ["来电人表示小区门口乱停车，消防车都进不来"], "address": ["3号楼"],
                          "address_key": ["wangyuan:3"], "source_channel": ["hotline_12345"]})
    held = linking.score_pairs(rules, note, call, [False]).iloc[0]["text_score"]
    unrelated = linking.score_pairs(rules, note, other, [False]).iloc[0]["text_score"]
    vectors = linking.text_vectors(rules, [linking.what_of(t, "3号楼") for t in (note.text[0], call.text[0])],
                                   [None, None])
    cosine = (vectors.rows[0] @ vectors.rows[1].T).toarray()[0, 0]
    assert held > 0.8 > 0.5 > cosine and unrelated < 0.1
    assert held == pytest.approx(min(1.0, cosine * vectors.lengths.max() / vectors.lengths.min()), abs=1e-5)
    two_calls = linking.score_pairs(rules, call, other, [False]).iloc[0]
    assert two_calls["text_score"] < 0.3


def test_a_tickets_home_building_counts_for_same_building_but_keeps_no_report_apart():
    """A mini-program ticket's address is the reporter's home: another building's call is still compared, and
    a call naming the ticket's building counts as the same building."""
    rules = linking.Rules.from_settings()
    ticket = pd.DataFrame({"text": ["楼道灯坏了", "楼道灯坏了"], "address": ["3-2-502", "3-2-502"],
                           "address_key": ["wangyuan:3", "wangyuan:3"], "source_channel": ["miniprogram"] * 2})
    call = pd.DataFrame({"text": ["3号楼楼道灯坏了", "5号楼楼道灯坏了"], "address": ["3号楼", "5号楼"],
                         "address_key": ["wangyuan:3", "wangyuan:5"], "source_channel": ["hotline_12345"] * 2})
    parts = linking.score_pairs(rules, ticket, call, [False, False])
    assert parts["compared"].tolist() == [True, True]
    assert parts["same_building"].tolist() == [True, False]
    assert parts["score"][0] - parts["score"][1] == pytest.approx(
        rules.weights["same_building"] + rules.weights["address"] * (parts["address_score"][0]
                                                                     - parts["address_score"][1]), abs=1e-4)


def test_pairs_of_registers_are_named_alike_whichever_comes_first():
    rules = linking.Rules.from_settings()
    assert rules.register_pairs(["staff", "call", "call"], ["call", "staff", "call"]).tolist() == [
        "call-staff", "call-staff", "call-call"]
    text, offset = rules.text_weight_and_offset(["call", "staff"], ["call", "call"])
    assert text[0] == rules.weights["text"] and offset[0] == 0
    assert (text[1], offset[1]) == (rules.between_registers["call-staff"]["text"],
                                    rules.between_registers["call-staff"]["offset"])


def test_the_hard_pairs_figures_add_up():
    figures = link_eval.hard_pairs()
    assert figures["pairs"] >= 200 and figures["labelled"] + figures["unsure"] == figures["pairs"]
    assert 0 <= figures["correct"] <= min(figures["linked"], figures["labelled_same"])
    assert figures["hard_pair_precision"] == round(figures["correct"] / figures["linked"], 4)
    assert figures["hard_pair_recall"] == round(figures["correct"] / figures["labelled_same"], 4)


def test_a_phrase_every_category_uses_weighs_less_than_one_of_a_category():
    """Weighted by n-gram rarity alone, two calls sharing only the operator's register (来电人表示) look more
    alike than a call and a patrol's note of the same outage (停电); weighted by category too, less."""
    texts = ["来电人表示停电了冰箱都化了", "来电人表示化粪池满了往外溢", "巡查发现停电", "来电人表示路灯不亮",
             "来电人表示楼上装修太吵", "来电人表示小区门口乱停车"]
    categories = ["utilities", "drainage", "utilities", "road_facilities", "noise", "parking_traffic"]

    def cosines(focus):
        rules = dataclasses.replace(linking.Rules.from_settings(), category_focus=focus)
        rows = linking.text_vectors(rules, texts, categories).rows
        return (rows[0] @ rows[1].T).toarray()[0, 0], (rows[0] @ rows[2].T).toarray()[0, 0]

    register_only, same_problem = cosines(0.0)
    assert register_only > same_problem
    focused_register, focused_problem = cosines(1.0)
    assert focused_register < focused_problem and focused_register < register_only / 2


def test_kinds_tell_the_problems_of_a_category_apart_in_other_words():
    """A resident's 蚊子太多了 and a patrol's 积存污水蚊虫滋生 name one kind of sanitation problem (seed
    problem_kinds: 蚊虫鼠害); a full rubbish station is another. Letters match in either case."""
    def kinds(text, category):
        return linking.kinds_of(linking.what_of(text, ""), category)

    call, note = kinds("小区里蚊子太多了，晚上都不敢开窗", "sanitation"), kinds("积存污水蚊虫滋生", "sanitation")
    rubbish = kinds("垃圾站的垃圾好几天没人清运", "sanitation")
    assert call and note and rubbish
    assert linking.kind_labels(call & note, "sanitation") == ("蚊虫鼠害",) and not call & rubbish
    assert kinds("KTV半夜还在唱", "noise") == kinds("ktv半夜还在唱", "noise") != 0
    assert kinds("小区里蚊子太多了", None) == 0  # no category, no kinds


def test_a_shared_kind_adds_to_a_score_and_two_different_kinds_take_from_it():
    rules = linking.Rules.from_settings()
    frame = lambda text: pd.DataFrame({"text": [text], "address": ["小区东门"], "address_key": ["wangyuan:?"],  # noqa: E731
                                       "source_channel": ["reception"], "category_code": ["sanitation"]})
    call = pd.DataFrame({"text": ["来电人表示小区东门积了一滩死水，蚊子特别多"], "address": ["小区东门"],
                         "address_key": ["wangyuan:?"], "source_channel": ["hotline_12345"],
                         "category_code": ["sanitation"]})
    same = linking.score_pairs(rules, frame("巡查发现积存污水蚊虫滋生"), call, [False]).iloc[0]
    other = linking.score_pairs(rules, frame("巡查发现垃圾桶满溢"), call, [False]).iloc[0]
    assert same["same_kind"] and not same["other_kind"] and other["other_kind"] and not other["same_kind"]
    w = rules.weights
    assert same["score"] - other["score"] == pytest.approx(
        rules.between_registers["call-staff"]["text"] * (same["text_score"] - other["text_score"])
        + w["same_kind"] + w["other_kind"], abs=1e-4)


def test_a_term_under_two_kinds_of_one_category_is_refused(tmp_path, monkeypatch):
    (tmp_path / linking.KINDS_FILE).write_text("category_code,kind,term\nnoise,娱乐场所,KTV\nnoise,邻里噪音,ktv\n",
                                               encoding="utf-8")
    monkeypatch.setattr(linking.config, "SEEDS_DIR", tmp_path)
    linking.problem_kinds.cache_clear()
    try:
        with pytest.raises(ValueError, match="ktv"):
            linking.problem_kinds()
    finally:
        linking.problem_kinds.cache_clear()


def test_clustering_joins_the_best_link_merges_strong_ones_and_keeps_one_link_per_problem():
    """_cluster by itself: reports in receipt order join the problem of their best link (a tie goes to the
    older problem), merge the problems they link to at merge_threshold (the older survives), may join
    through a pool report received after them (a backfill), and keep one link, the best, per problem joined."""
    import dataclasses

    rules = dataclasses.replace(linking.Rules.from_settings(), threshold=1.0, merge_threshold=1.3)
    at = pd.Timestamp("2026-07-01 08:00", tz="Asia/Shanghai")
    hours = lambda n: at + pd.Timedelta(hours=n)  # noqa: E731
    pending = pd.DataFrame({"complaint_id": ["n1", "n2", "n3"], "received_at": [hours(24), hours(25), hours(26)]})
    pool = pd.DataFrame({"complaint_id": ["p1", "p2", "p3"], "problem_id": ["A", "B", "C"]})
    ids = ["n1", "n2", "n3", "p1", "p2", "p3"]  # by position: the pending reports first
    pos = {c: i for i, c in enumerate(ids)}
    scored_pairs = [("n1", "p1", 1.1), ("n1", "p2", 1.1),                      # a tie: the older problem A
                    ("n2", "n1", 1.35), ("n2", "p2", 1.4), ("n2", "p1", 1.02),  # both at merge: B into A
                    ("p3", "n3", 1.2), ("n3", "n1", 1.0)]                      # through a later pool report
    pairs = pd.DataFrame({
        "complaint_at": [pos[a] for a, _, _ in scored_pairs], "linked_at": [pos[b] for _, b, _ in scored_pairs],
        "rule": "similar_report", "score": [s for _, _, s in scored_pairs], "text_score": 0.9,
        "address_score": 1.0, "same_building": True, "same_complainant": False, "shared_kinds": 0, "same_category": True,
        "hours_apart": 1.0})
    scored = linking._Scored(pairs, pd.Series(ids).to_numpy(object), pd.Series(["sanitation"] * 6).to_numpy(object), 3)
    problems = linking._Problems({"A": (hours(0), "p1"), "B": (hours(1), "p2"), "C": (hours(48), "p3")})
    result = linking.LinkResult()
    kept = linking._cluster(rules, pending, pool, scored, problems, result)
    assert {c: problems.of[c] for c in ("n1", "n2", "n3", "p2")} == {"n1": "A", "n2": "A", "n3": "C", "p2": "A"}
    assert problems.merges == {"B": "A"} and problems.merged_by == {"B": "n2"}
    assert set(zip(kept["complaint_id"], kept["linked_to"])) == {("n1", "p1"), ("n2", "n1"), ("n2", "p2"), ("p3", "n3")}
    assert (result.founded, result.joined, result.merged, result.links) == (0, 3, 1, 4)
    assert kept["shared_kinds"].tolist() == [[]] * 4 and kept["same_building"].tolist() == [True] * 4


def _reports(rows: list[tuple]) -> pd.DataFrame:
    """Pending reports as the stage reads them (REPORT_COLUMNS): (id, community, category, candidates), all
    saying the same thing the same hour, none naming a building."""
    at = pd.Timestamp("2026-07-01 08:00", tz="Asia/Shanghai")
    return pd.DataFrame([{
        "complaint_id": cid, "source_channel": "hotline_12345", "received_at": at + pd.Timedelta(minutes=i),
        "community_id": community, "category_code": category, "address_key": f"{community}:?",
        "text": "楼道里堆满了杂物和垃圾没人清理", "address": "", "complainant_key": None, "is_open": True,
        "candidates": candidates, "link_key": cid, "old_problem": None} for i, (cid, community, category, candidates)
        in enumerate(rows)])


def test_a_report_meets_the_categories_among_its_candidates_and_pays_for_the_other_category():
    """Soft blocking (settings.yml linking.candidate_probability): a report is compared with the reports of
    its candidate categories, and theirs with it; a pair of two categories, each the other's candidate, once;
    two reports that are only a block's candidates, or of unrelated categories, never."""
    rules = dataclasses.replace(linking.Rules.from_settings(), threshold=0.3)
    pending = _reports([
        ("A", "c1", "sanitation", []), ("B", "c1", "property_service", ["sanitation"]),  # B may be sanitation
        ("C", "c1", "heating", []),                                                      # unrelated
        ("D", "c2", "sanitation", ["property_service"]), ("E", "c2", "property_service", ["sanitation"]),
        ("F", "c3", "heating", ["sanitation"]), ("G", "c3", "property_service", ["sanitation"])])
    pool = pending.iloc[:0].drop(columns="old_problem").assign(problem_id=None)
    result = linking.LinkResult()
    scored = linking._score(rules, pending, pool, result)
    ids = scored.ids
    pairs = {(ids[a], ids[b]): same for a, b, same in
             zip(scored.pairs["complaint_at"], scored.pairs["linked_at"], scored.pairs["same_category"])}
    assert result.compared == 2 and pairs == {("B", "A"): False, ("E", "D"): False}
    penalty = rules.weights["other_category"]
    assert penalty > 0
    row = scored.pairs.iloc[0]
    assert row["score"] == pytest.approx(rules.weights["text"] * row["text_score"] + rules.weights["address"] * 0.5
                                         - penalty, abs=1e-3)
    # without candidates, each report meets its own category's only
    alone = linking.LinkResult()
    linking._score(rules, pending.assign(candidates=[[]] * len(pending)), pool, alone)
    assert alone.compared == 0
