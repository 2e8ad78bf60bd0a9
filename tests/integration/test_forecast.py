"""The issue forecast (minqing/analytics/forecast.py) on a synthetic daily history written straight into a minimal
marts.fct_community_category_daily of a fresh database (no dbt): a weekly rhythm in every category and a
flood-season surge of waterlogging, peaking 20 July – 10 August.

Forecast day 2025-07-19, so the horizon (20 – 26 July) is the first week of the flood peak.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import pytest

from minqing.analytics import forecast as fc

FIRST_DAY = dt.date(2023, 1, 2)
AS_OF = dt.date(2025, 7, 19)
COMMUNITIES = {"wangyuan": 1.6, "jiner": 1.0, "baoli": 0.6, "liunan": 0.3}  # community levels
WEEKDAY = [1.3, 1.2, 1.1, 1.0, 1.0, 0.6, 0.5]  # Monday .. Sunday


def _rates(category: str, days: pd.DatetimeIndex) -> np.ndarray:
    """Mean complaints per day of a community of level 1: waterlogging 0.08 outside the flood season,
    0.45 in it and 1.5 in its peak; noise 0.5 and sanitation 0.3 all year; times the weekday rhythm."""
    md = days.month * 100 + days.day
    if category == "waterlogging":
        rate = np.select([(md >= 720) & (md <= 810), (md >= 601) & (md <= 915)], [1.5, 0.45], 0.08)
    else:
        rate = np.full(len(days), 0.5 if category == "noise" else 0.3)
    return rate * np.array(WEEKDAY)[days.day_of_week]


def _history(last_day: dt.date) -> pd.DataFrame:
    rng = np.random.default_rng(20250719)
    days = pd.date_range(FIRST_DAY, last_day, freq="D")
    rows = []
    for community, level in COMMUNITIES.items():
        for category in ("waterlogging", "noise", "sanitation"):
            counts = rng.poisson(level * _rates(category, days))
            proactive = rng.binomial(counts, 0.1)
            rows += [(d.date(), community, category, int(n), int(p)) for d, n, p in zip(days, counts, proactive)]
    return pd.DataFrame(rows, columns=["date_day", "community_id", "category_code", "received_total",
                                       "received_proactive"])


@pytest.fixture()
def history_db(fresh_warehouse):
    """The fresh database with marts.fct_community_category_daily: complete days up to AS_OF and a
    partial AS_OF + 1, as dbt leaves it on the as-of day."""
    frame = _history(AS_OF + dt.timedelta(days=1))
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("""create table marts.fct_community_category_daily (
                            date_day date not null, community_id text not null, category_code text not null,
                            received_total integer not null, received_proactive integer not null,
                            is_complete_day boolean not null,
                            primary key (date_day, community_id, category_code))""")
        with conn.cursor().copy("copy marts.fct_community_category_daily from stdin") as copy:
            for row in frame.itertuples(index=False):
                copy.write_row((*row, row.date_day <= AS_OF))
        conn.commit()
    return fresh_warehouse


def _rows(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_season_flags_follow_the_settings():
    seasons = fc.settings()["seasons"]
    days = pd.to_datetime(["2025-05-31", "2025-06-01", "2025-07-20", "2025-08-11", "2025-09-15",
                           "2025-11-14", "2025-11-15", "2025-11-24", "2025-11-25", "2026-01-10", "2026-03-16"])
    flags = fc.season_flags(pd.DatetimeIndex(days), seasons)
    assert flags["flood"].tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert flags["flood_peak"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert flags["heating"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    assert flags["heating_start"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    assert fc.season_label(dt.date(2025, 7, 20), dt.date(2025, 7, 26), seasons) == "汛期主汛期"
    assert fc.season_label(dt.date(2025, 4, 1), dt.date(2025, 4, 7), seasons) is None


def test_forecasts_written_idempotent_and_the_flood_surge_warns(history_db):
    first = fc.forecast_step()  # as_of defaults to the last complete day
    assert first["as_of"] == AS_OF.isoformat()
    assert first["pairs"] == len(COMMUNITIES) * 3
    written = _rows(history_db, "select count(*), min(horizon_start), max(horizon_end), count(distinct created_at) "
                                "from ops.forecasts where as_of = %s", AS_OF)
    assert written == [(12, dt.date(2025, 7, 20), dt.date(2025, 7, 26), 1)]

    again = fc.write_forecasts(AS_OF)  # the same as_of again: replaced, not added
    assert len(again) == 12
    assert _rows(history_db, "select count(*) from ops.forecasts")[0][0] == 12
    earlier = fc.write_forecasts(AS_OF - dt.timedelta(days=7))  # another as_of is kept beside it
    assert len(earlier) == 12
    assert _rows(history_db, "select count(*) from ops.forecasts")[0][0] == 24

    warnings = _rows(history_db, """select community_id, category_code, expected_volume, baseline_volume,
                                           surge_ratio, season_zh, warning_margin
                                    from ops.forecasts where as_of = %s and is_early_warning""", AS_OF)
    by_pair = {(w[0], w[1]): w for w in warnings}
    # the flood peak: waterlogging surges well over its yearly baseline in the busier communities
    for community in ("wangyuan", "jiner"):
        _, _, expected, baseline, ratio, season, margin = by_pair[(community, "waterlogging")]
        assert ratio >= margin and expected >= 3
        assert season == "汛期主汛期"
    assert {category for _, category in by_pair} == {"waterlogging"}  # noise and sanitation are steady
    wangyuan = fc.forecast(AS_OF).set_index(["community_id", "category_code"])
    assert wangyuan.loc[("wangyuan", "waterlogging"), "expected_volume"] > 8  # ≈ 1.6 × 1.5 × 7.1


def test_backtest_beats_weekly_seasonal_naive(history_db):
    result = fc.backtest(origins=10)
    assert result["origins"] == 10
    assert set(result["categories"]) == {"waterlogging", "noise", "sanitation"}
    for figures in [*result["categories"].values(), result["overall"]]:
        assert figures["model_mae"] >= 0 and figures["naive_week_mae"] >= 0
        assert figures["naive_year_mae"] is not None  # the history is older than a year at every origin
    overall = result["overall"]
    assert overall["pairs"] == 10 * len(COMMUNITIES) * 3
    assert overall["model_mae"] < overall["naive_week_mae"]
    assert overall["beats_naive_week"]
    stored = _rows(history_db, "select category_code, model_mae, naive_week_mae, naive_year_mae, origins, pairs "
                               "from ops.forecast_backtests order by category_code")
    assert [r[0] for r in stored] == ["noise", "overall", "sanitation", "waterlogging"]
    assert {r[4] for r in stored} == {10}
    assert float(dict((r[0], r[1]) for r in stored)["overall"]) == pytest.approx(overall["model_mae"], abs=1e-3)
