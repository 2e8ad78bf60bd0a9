"""`minqing effect-eval`: does the effect estimate (minqing/analytics/effects.py) find an injected effect
and nothing where none was injected? (issue 20)

For each seed the generator simulates the street's demands (its `simulate`, without writing files: the
estimate reads weekly counts, which the simulation gives directly) with an effect injected into one
community's categories from a start date. Per seed:

- coverage: whether the interval of the treated community's estimate holds the injected change;
- a placebo: the same estimate for another community, untreated, from the same start: whether its
  interval holds 0 and whether its p-value falls below 0.05 (a false alarm).

Across seeds, the interval should hold the truth in about `level` (95%) of them and false alarms come
at about 5%.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd

from minqing.analytics import effects
from minqing.devtools import generate as gen

FIRST_MONDAY = gen.DEFAULT_START - dt.timedelta(days=gen.DEFAULT_START.weekday())  # the first generated week

DEFAULTS = {"seeds": 20, "weeks": 78, "start_week": 52, "per_day": 40, "size": -0.4,
            "community": "八一厂社区", "categories": ("neighbor_dispute", "noise", "livelihood", "property_service")}


def weekly_counts(demands: list, categories: tuple[str, ...], first: dt.date, weeks: int) -> pd.DataFrame:
    """Residents' demands (not the street's own finds) per community × week (Mondays), as the warehouse's
    panel (communities named as the generator names them)."""
    rows = [(d.community.name, d.day - dt.timedelta(days=d.day.weekday())) for d in demands
            if d.channel != gen.RECEPTION and (not categories or d.category in categories)]
    frame = pd.DataFrame(rows, columns=["community", "week"])
    mondays = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    counts = frame.groupby(["community", "week"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=[c.name for c in gen.COMMUNITIES], columns=mondays, fill_value=0)
    counts.columns = pd.to_datetime(counts.columns)
    return counts


def simulate_panel(seed: int, weeks: int, per_day: int, effect: gen.Effect | None,
                   categories: tuple[str, ...]) -> pd.DataFrame:
    calendar = gen.Calendar(gen._rng(seed, "weather"), FIRST_MONDAY, weeks * 7)
    population = gen.Population(gen._rng(seed, "residents"))
    demands = gen.simulate(seed, calendar, per_day, population, (effect,) if effect else ())
    return weekly_counts(demands, categories, FIRST_MONDAY, weeks)


def run(seeds: int = DEFAULTS["seeds"], weeks: int = DEFAULTS["weeks"], start_week: int = DEFAULTS["start_week"],
        per_day: int = DEFAULTS["per_day"], size: float = DEFAULTS["size"], community: str = DEFAULTS["community"],
        categories: tuple[str, ...] = DEFAULTS["categories"], progress=print) -> dict:
    start = FIRST_MONDAY + dt.timedelta(weeks=start_week)
    effect = gen.Effect(community, start, size, tuple(categories))
    settings = effects.Settings.load()
    trials = []
    for seed in range(1, seeds + 1):
        panel = simulate_panel(seed, weeks, per_day, effect, tuple(categories))
        found = effects.estimate(panel, community, start, settings=settings)
        others = [c.name for c in gen.COMMUNITIES if c.name != community]
        placebo_name = random.Random(seed).choice(others)
        placebo = effects.estimate(panel.drop(index=community), placebo_name, start, settings=settings)
        truth = 100 * size
        trial = {"seed": seed, "effect_pct": found.effect_pct, "ci_low_pct": found.ci_low_pct,
                 "ci_high_pct": found.ci_high_pct, "p_value": found.p_value,
                 "covered": bool(found.ci_low_pct <= truth <= found.ci_high_pct),
                 "synthetic_pct": found.synthetic.get("effect_pct"),
                 "placebo_community": placebo_name, "placebo_pct": placebo.effect_pct,
                 "placebo_covers_zero": bool(placebo.ci_low_pct <= 0 <= placebo.ci_high_pct),
                 "placebo_p": placebo.p_value, "warnings": found.warnings}
        progress(f"effect-eval: seed {seed}: {trial['effect_pct']}% [{trial['ci_low_pct']}, {trial['ci_high_pct']}] "
                 f"p {trial['p_value']}; placebo {placebo_name} {trial['placebo_pct']}% p {trial['placebo_p']}")
        trials.append(trial)
    n = len(trials)
    return {
        "settings": {"seeds": seeds, "weeks": weeks, "start_week": start_week, "per_day": per_day, "size": size,
                     "community": community, "categories": list(categories), "level": settings.level},
        "coverage": round(sum(t["covered"] for t in trials) / n, 4),
        "mean_effect_pct": round(float(np.mean([t["effect_pct"] for t in trials])), 2),
        "mean_synthetic_pct": round(float(np.mean([t["synthetic_pct"] for t in trials
                                                   if t["synthetic_pct"] is not None])), 2),
        "detected_at_5pct": round(sum((t["p_value"] or 1) < 0.05 for t in trials) / n, 4),
        "placebo_coverage": round(sum(t["placebo_covers_zero"] for t in trials) / n, 4),
        "placebo_false_alarms_at_5pct": round(sum((t["placebo_p"] or 1) < 0.05 for t in trials) / n, 4),
        "trials": trials,
    }


def point_estimates(seeds: int = 80, weeks: int = DEFAULTS["weeks"], start_week: int = DEFAULTS["start_week"],
                    per_day: int = DEFAULTS["per_day"], size: float = DEFAULTS["size"],
                    community: str = DEFAULTS["community"], categories: tuple[str, ...] = DEFAULTS["categories"],
                    progress=print) -> dict:
    """The main estimate's point alone (no placebo, no synthetic control: a few seconds a street) over many
    streets: its mean and standard error, to tell a drift from the chance of 20 streets."""
    import math

    start = pd.Timestamp(FIRST_MONDAY + dt.timedelta(weeks=start_week))
    effect = gen.Effect(community, start.date(), size, tuple(categories)) if size else None
    settings = effects.Settings.load()
    found = []
    for seed in range(1, seeds + 1):
        panel = simulate_panel(seed, weeks, per_day, effect, tuple(categories))
        seasons = effects.Seasonality.of(panel.columns, settings) if settings.seasons else None
        beta, _, _ = effects.poisson_did(panel, community, start, seasons)
        found.append(100 * math.expm1(beta))
        progress(f"effect-eval --point-only: seed {seed}: {found[-1]:+.1f}%")
    return {"settings": {"seeds": seeds, "weeks": weeks, "start_week": start_week, "per_day": per_day, "size": size,
                         "community": community, "categories": list(categories)},
            "mean_effect_pct": round(float(np.mean(found)), 2),
            "standard_error_pct": round(float(np.std(found, ddof=1) / math.sqrt(len(found))), 2),
            "estimates": [round(v, 1) for v in found]}


def point_lines(figures: dict) -> list[str]:
    cfg = figures["settings"]
    return [f"effect-eval --point-only: {cfg['seeds']} generated streets, {cfg['community']} x{1 + cfg['size']:.2f} "
            f"from week {cfg['start_week']} in {', '.join(cfg['categories'])}",
            f"mean estimate {figures['mean_effect_pct']:+.2f}% (standard error {figures['standard_error_pct']:.2f}) "
            f"against the injected {100 * cfg['size']:+.0f}%"]


def lines(figures: dict) -> list[str]:
    cfg = figures["settings"]
    n = cfg["seeds"]
    return [
        f"effect-eval: {n} generated streets, {cfg['weeks']} weeks, {cfg['per_day']} demands a day; "
        f"{cfg['community']} x{1 + cfg['size']:.2f} from week {cfg['start_week']} in {', '.join(cfg['categories'])}",
        f"interval ({100 * cfg['level']:.0f}%) holds the injected {100 * cfg['size']:+.0f}%: {figures['coverage']:.0%} of streets",
        f"mean estimate {figures['mean_effect_pct']:+.1f}% (synthetic control {figures['mean_synthetic_pct']:+.1f}%); "
        f"p < 0.05 in {figures['detected_at_5pct']:.0%}",
        f"placebo (an untreated community, same start): interval holds 0 in {figures['placebo_coverage']:.0%}, "
        f"p < 0.05 in {figures['placebo_false_alarms_at_5pct']:.0%}",
    ]
