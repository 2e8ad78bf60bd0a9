"""The link stage's parts that need no database (minqing/analytics/linking.py, issue 19), and the
hand-labelled hard pairs `minqing link-eval` measures the rules on."""

from __future__ import annotations

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
    import dataclasses

    texts = ["来电人表示停电了冰箱都化了", "来电人表示化粪池满了往外溢", "巡查发现停电", "来电人表示路灯不亮",
             "来电人表示楼上装修太吵", "来电人表示小区门口乱停车"]
    categories = ["utilities", "drainage", "utilities", "road_facilities", "noise", "parking_traffic"]

    def cosines(focus):
        rules = dataclasses.replace(linking.Rules.from_settings(), category_focus=focus)
        vectors = linking.text_vectors(rules, texts, categories)
        return (vectors[0] @ vectors[1].T).toarray()[0, 0], (vectors[0] @ vectors[2].T).toarray()[0, 0]

    register_only, same_problem = cosines(0.0)
    assert register_only > same_problem
    focused_register, focused_problem = cosines(1.0)
    assert focused_register < focused_problem and focused_register < register_only / 2
