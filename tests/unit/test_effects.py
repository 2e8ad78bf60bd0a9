"""The effect estimate (minqing/analytics/effects.py, issue 20) on generated weeks whose truth is known: the
generator injects an effect into one community's categories (minqing.devtools.generate.Effect)."""

from __future__ import annotations

import dataclasses
import json
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from minqing.analytics import effects
from minqing.devtools import effect_eval
from minqing.devtools.generate import Effect

CATEGORIES = effect_eval.DEFAULTS["categories"]
TREATED = "八一厂社区"
WEEKS, START_WEEK = 60, 40


@pytest.fixture(scope="module")
def panel():
    start = effect_eval.FIRST_MONDAY + dt.timedelta(weeks=START_WEEK)
    return effect_eval.simulate_panel(3, WEEKS, 40, Effect(TREATED, start, -0.4, CATEGORIES), CATEGORIES), start


@pytest.fixture(scope="module")
def found(panel):
    weeks, start = panel
    return effects.estimate(weeks, TREATED, start)


def test_an_injected_effect_is_found_within_its_interval(found):
    assert found.ci_low_pct <= -40 <= found.ci_high_pct and found.ci_high_pct < 0
    assert found.p_value < 0.05 and found.effect_per_month < 0 < found.expected_per_month
    assert (found.pre_weeks, found.post_weeks) == (START_WEEK, WEEKS - START_WEEK)
    assert len(found.donors) == 12 and not found.warnings
    # the second estimate agrees in sign, its donor weights are a mix
    assert found.synthetic["effect_pct"] < 0
    assert sum(found.synthetic["weights"].values()) == pytest.approx(1, abs=0.01)
    assert all(w >= 0 for w in found.synthetic["weights"].values())
    # the event study: the blocks before the start against their own mean sit around 0 (their logs average
    # 0), each with an interval; the blocks after it show the drop
    blocks = {b["block"]: b for b in found.event_study}
    assert np.mean([np.log1p(b["effect_pct"] / 100) for k, b in blocks.items() if k < 0]) == pytest.approx(0, abs=0.002)
    assert all(b["ci_low_pct"] < b["ci_high_pct"] for b in blocks.values() if b["ci_high_pct"] is not None)
    assert np.mean([b["effect_pct"] for k, b in blocks.items() if k >= 0]) < -20


def test_no_effect_is_found_where_none_was_injected(panel):
    weeks, start = panel
    placebo = effects.estimate(weeks.drop(index=TREATED), "金二社区", start)
    assert placebo.ci_low_pct <= 0 <= placebo.ci_high_pct and placebo.p_value > 0.05


def test_the_reading_says_it_in_plain_words(found):
    text = effects.reading(found, TREATED)
    assert text.startswith(f"{TREATED}干预后诉求估计减少") and "区间不含 0" in text and "安慰剂检验 p =" in text


def test_several_communities_are_taken_together(panel):
    weeks, start = panel
    both = effects.estimate(weeks, [TREATED, "六南社区"], start)
    assert both.treated == f"{TREATED}+六南社区" and both.communities == [TREATED, "六南社区"]
    assert TREATED not in both.donors and len(both.donors) == 11


def test_every_warning_case(panel):
    weeks, start = panel
    settings = effects.Settings.load()
    short = effects.estimate(weeks.iloc[:, START_WEEK - 6:], TREATED, start)
    assert any("干预前只有 6 周" in w for w in short.warnings)
    few = effects.estimate(weeks.loc[[TREATED, "金二社区", "望园社区", "六南社区"]], TREATED, start)
    assert any("对照社区只有 3 个" in w for w in few.warnings)
    left = effects.estimate(weeks, TREATED, start, left_out={"六南社区": "纵横共治法也作用于此"})
    assert "六南社区" not in left.donors and any(w.startswith("六南社区 未作对照") for w in left.warnings)
    # a community already drifting away from the others before the start: the time placebo sees it
    drifting = weeks.copy().astype(float)
    ramp = np.linspace(0.3, 2.5, START_WEEK)
    before = drifting.columns < pd.Timestamp(start)
    drifting.loc[TREATED, before] = np.round(drifting.loc[TREATED, before] * ramp * 2)
    drift = effects.estimate(drifting.astype(int), TREATED, start)
    assert drift.time_placebo_p is not None and any("走势不一致" in w for w in drift.warnings)
    strict = dataclasses.replace(settings, max_pre_misfit=0.0)
    assert any("合成对照在干预前拟合不佳" in w for w in effects.estimate(weeks, TREATED, start, settings=strict).warnings)
    nothing = effects.estimate(weeks, TREATED, weeks.columns[-1] + dt.timedelta(weeks=1))
    assert nothing.effect_pct is None and any("无法估计" in w for w in nothing.warnings)
    assert effects.reading(nothing, TREATED) == f"{TREATED}：无法估计效果。" + "；".join(nothing.warnings) + "。"
    # a month of data (a warehouse's first weeks): an estimate with its warnings, no synthetic control
    month = effects.estimate(weeks.iloc[:, START_WEEK - 3:START_WEEK + 2], TREATED, start)
    assert month.effect_pct is not None and month.synthetic["effect_pct"] is None
    assert any(w.startswith("合成对照无法估计") for w in month.warnings)


@pytest.mark.parametrize("text, error", [
    ("八一厂社区:2026-09-01", "COMMUNITY:START:SIZE"),
    ("不存在社区:2026-09-01:-0.4", "not a community"),
    ("八一厂社区:2026-09-01:-1.5", "between -1"),
    ("八一厂社区:2026-09-01:-0.4:rats", "unknown categories"),
])
def test_an_injected_effect_is_read_strictly(text, error):
    with pytest.raises(ValueError, match=error):
        Effect.parse(text)


def test_an_injected_effect_changes_the_treated_counts_by_its_size():
    start = effect_eval.FIRST_MONDAY + dt.timedelta(weeks=20)
    base = effect_eval.simulate_panel(5, 40, 40, None, ())
    halved = effect_eval.simulate_panel(5, 40, 40, Effect(TREATED, start, -0.5), ())
    after = base.columns >= np.datetime64(start)
    assert halved.loc[TREATED, ~after].sum() == base.loc[TREATED, ~after].sum()
    assert 0.4 < halved.loc[TREATED, after].sum() / base.loc[TREATED, after].sum() < 0.6
    assert Effect.parse("八一厂社区:2026-09-01:-0.4:noise") == Effect(TREATED, dt.date(2026, 9, 1), -0.4, ("noise",))


def test_an_estimate_beyond_reading_is_no_figure():
    # a block without a complaint on one side: its β and interval run to ±∞
    assert effects._pct(1000.0) is None and effects._pct(float("nan")) is None
    assert effects._pct(-1000.0) == -100.0 and effects._pct(0.0) == 0.0


def test_the_demo_injects_the_seed_interventions():
    from minqing.devtools import demo

    injected = {(e.community, e.size, e.categories) for e in demo.demo_effects()}
    assert injected == {("八一厂社区", -0.45, ("neighbor_dispute",)), ("六南社区", -0.25, ()),
                        ("保利益丰社区", -0.3, ("property_service", "utilities")),
                        ("西局玉园社区", -0.3, ("property_service", "utilities"))}


def test_effect_eval_point_only_gives_the_mean_and_its_standard_error(capsys):
    from minqing import cli

    assert cli.main(["effect-eval", "--point-only", "--seeds", "2", "--size", "-0.5", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert len(figures["estimates"]) == 2 and figures["settings"]["size"] == -0.5
    assert figures["mean_effect_pct"] == pytest.approx(np.mean(figures["estimates"]), abs=0.1)
    assert -70 < figures["mean_effect_pct"] < -30 and figures["standard_error_pct"] >= 0
