"""The demo month shows the issue forecast at work (问题预判): the month `minqing demo` generates
(30 days from 2026-07-01, its seed and volume) runs into the flood season's peak ("七下八上"), and the
forecast made as of its last day warns of roof leaks and standing water in the older estates, by the
model's own rules (settings.yml forecast.early_warning), with nothing tuned for the test."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from minqing import cli
from minqing.config import BEIJING
from minqing.devtools import demo
from minqing.devtools.generate import generate

# the categories rain raises in the generator (Calendar.category_weights: waterlogging, housing_leak, drainage)
FLOOD_CATEGORIES = {"housing_leak", "waterlogging", "drainage"}
PEAK_START = dt.date(2026, 7, 20)  # "七下八上": about 20 July – 10 August


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory):
    """The month `minqing demo` generates, with the demo's own defaults (so the test follows them):
    (landing folder, manifest, last generated day)."""
    args = cli.build_parser().parse_args(["demo"])
    start = demo.first_day(args)
    landing = tmp_path_factory.mktemp("demo_month") / "landing"
    manifest = generate(landing, days=args.days, seed=args.seed, per_day=args.per_day, start=start)
    return landing, manifest, start + dt.timedelta(days=args.days - 1)


def test_the_demo_month_surges_in_the_flood_peak_over_days_not_in_one_spike(demo_month):
    _, manifest, _ = demo_month
    flood = {dt.date.fromisoformat(day): sum(v["categories"].get(c, 0) for c in FLOOD_CATEGORIES)
             for day, v in manifest["daily"].items()}
    before = [n for day, n in flood.items() if day < PEAK_START]
    peak = [n for day, n in flood.items() if day >= PEAK_START]
    assert before and peak
    assert sum(peak) / len(peak) > 1.5 * sum(before) / len(before), flood
    assert max(peak) < sum(peak) / 3, flood  # spread over the rain spells, not one day's spike


@pytest.mark.slow
def test_the_demo_month_brings_flood_season_early_warnings_in_the_older_estates(fresh_warehouse, demo_month):
    from minqing.pipeline import run

    landing, _, last_day = demo_month
    # the forecast as of the end of the month's last generated day, in Beijing
    end_of_last_day = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), BEIJING)
    run(landing, as_of=end_of_last_day.isoformat())

    with psycopg.connect(fresh_warehouse) as conn:
        warnings = conn.execute(
            """select w.as_of, w.community_id, d.community_type, w.category_code, w.expected_volume,
                      w.surge_ratio, w.warning_margin, w.min_expected_volume, w.season_zh, w.reason
                 from marts.rpt_early_warnings as w
                 left join marts.dim_community as d using (community_id)
                order by w.community_id, w.category_code""").fetchall()
    assert warnings, "the demo month gives no early warning"
    assert {w[0] for w in warnings} == {last_day}
    assert {w[3] for w in warnings} <= FLOOD_CATEGORIES, warnings
    assert any(w[2] == "older_estate" for w in warnings), warnings
    for _, community, _, category, expected, ratio, margin, min_expected, season, reason in warnings:
        # the rule of settings.yml, as the mart publishes it with each warning
        assert expected >= min_expected and ratio >= margin, (community, category, expected, ratio)
        assert "汛期" in season and reason, (community, category, season, reason)
