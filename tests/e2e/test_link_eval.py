"""`minqing link-eval`: the figures of a generated month and `--tune`'s choice, on a small month (correctness
of the measuring, not its figures)."""

from __future__ import annotations

import json

import pytest

from minqing import cli
from minqing.devtools import link_eval


@pytest.mark.slow
def test_link_eval_measures_a_generated_month_and_its_figures_add_up(fresh_warehouse, capsys):
    assert cli.main(["link-eval", "--json", "--days", "8", "--per-day", "30"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["matched"] <= figures["truth_rows"] and figures["reports"] == figures["matched"] - figures["unlinked"]
    assert 0 <= figures["correct_pairs"] <= min(figures["true_pairs"], figures["linked_pairs"])
    assert figures["pair_recall"] == round(figures["correct_pairs"] / figures["true_pairs"], 4)
    assert figures["pair_precision"] == round(figures["correct_pairs"] / figures["linked_pairs"], 4)
    assert sum(figures["missed_pairs"].values()) == figures["true_pairs"] - figures["correct_pairs"]
    daily = figures["day_by_day"]  # linked again a day at a time, as daily runs link
    assert 0 <= daily["correct_pairs"] <= min(figures["true_pairs"], daily["linked_pairs"])
    assert daily["pair_recall"] == round(daily["correct_pairs"] / figures["true_pairs"], 4)
    assert figures["hard_pairs"]["labelled"] + figures["hard_pairs"]["unsure"] == figures["hard_pairs"]["pairs"]


@pytest.mark.slow
def test_tune_fits_weights_per_focus_on_two_months_and_chooses_the_best_recall_within_the_targets(fresh_warehouse,
                                                                                                   monkeypatch):
    monkeypatch.setattr(link_eval, "TUNE_FOCUS", (0.0, 1.0))
    monkeypatch.setattr(link_eval, "TUNE_THRESHOLDS", (0.96, 1.08))
    tuned = link_eval.tune(days=8, per_day=30, progress=lambda message: None)
    assert tuned["seeds"] == list(link_eval.TUNE_SEEDS) and len(link_eval.TUNE_SEEDS) == 2
    trials = tuned["trials"]
    assert [(t["category_focus"], t["threshold"]) for t in trials] == [(0.0, 0.96), (0.0, 1.08), (1.0, 0.96), (1.0, 1.08)]
    for trial in trials:
        assert trial["weights"]["text"] == 1.0 and set(trial["weights"]) == set(link_eval.WEIGHT_PARTS)
        # pairs of two registers with enough pairs get their own text weight and offset
        assert set(trial["between_registers"]) <= {"call-staff", "call-ticket", "staff-ticket"}
        assert all(set(between) == {"text", "offset"} for between in trial["between_registers"].values())
        assert 0 < trial["same_problem_pairs"] < trial["compared_pairs"]
        assert 0 <= trial["pair_recall"] <= 1 and 0 <= trial["pair_precision"] <= 1
        # each month measured apart; the figures beside them are the two months' pairs together
        assert [m["seed"] for m in trial["months"]] == tuned["seeds"]
        assert trial["lowest_month_precision"] == min((m[k] or 0) for m in trial["months"]  # linked either way
                                                      for k in ("pair_precision", "day_by_day_precision"))
        assert min(m["pair_recall"] for m in trial["months"]) <= trial["pair_recall"] <= max(
            m["pair_recall"] for m in trial["months"])
    # one focus, one fit: its thresholds share the weights
    assert trials[0]["weights"] == trials[1]["weights"] and trials[2]["weights"] == trials[3]["weights"]
    assert trials[0]["between_registers"] == trials[1]["between_registers"]
    good = [t for t in trials if t["lowest_month_precision"] >= link_eval.TARGETS["pair_precision"]
            and t["hard_pair_precision"] >= link_eval.TARGETS["hard_pair_precision"]]
    if good:
        assert tuned["chosen"] in good and tuned["chosen"]["pair_recall"] == max(t["pair_recall"] for t in good)
    else:
        assert tuned["chosen"] is None
    assert link_eval.tune_lines(tuned)[-1].startswith("chosen:")
