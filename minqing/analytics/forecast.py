"""The issue forecast (问题预判模型): how many complaints each community × category will bring in the
next days, and which pairs are heading for a surge, so that the street can act before anyone calls
(未诉先办).

What it predicts
    Per community × category, the expected number of complaints over the next `horizon_days` (7)
    days after `as_of`, the last complete day of `marts.fct_community_category_daily`. Proactive
    finds (reception, door-knocking, patrols) are left out unless `include_proactive` says so.

The model, and why this one
    A Poisson regression per category (scikit-learn `PoissonRegressor`: a Poisson GLM with a log
    link and a small L2 penalty), pooled over the communities: one row per community × day, with

    - the community as a level (one indicator per community): each community keeps its own volume;
    - the day of the week (7 indicators): the weekday rhythm of the hotline;
    - the seasons of domain.md as flags, dates from `settings.yml` (forecast.seasons): flood season
      (汛期), its peak (主汛期, "七下八上"), heating season (供暖季) and its first days (供暖季初期);
    - one smooth yearly cycle (sine and cosine of the day of the year) for what the flags do not
      name (more sanitation and noise complaints in summer);
    - the recent trend: log of (mean of the last `trend_days` days + pseudo-count) over (the pair's
      long-run mean over `baseline_days` + pseudo-count), taken on the day the forecast is made.

    Why: complaint counts per community × category × day are small (mostly 0, 1, 2), so a count
    model with a log link is the natural fit, and its coefficients read as multipliers ("in the
    flood peak, waterlogging is ×4"; "Mondays ×1.2"), which a street analyst can check. Pooling the
    communities of a category lets a sparse series (a community with a dozen waterlogging complaints
    a year) borrow the seasonal and weekly shape from the others and keep only its level; the L2
    penalty shrinks what the data barely shows towards "no effect" and keeps a community that never
    reported a category at a small, finite level. No lags of the series itself other than the
    28-day trend: with a handful of complaints a week, yesterday's count is mostly noise.

    Training mirrors forecasting: the history is cut into 7-day blocks ending on the forecast day,
    and every training day sees the trend as it was on the day before its block (1 to 7 days
    earlier), just as the days of the horizon see the trend of the forecast day.

Baseline, ratio and early warning
    baseline_volume = the pair's own mean volume per 7 days over `baseline_days` (364) before the
    forecast day; surge_ratio = expected / greatest(baseline, baseline_floor). A pair warns when
    expected >= margin × baseline (ratio >= margin) and expected >= min_expected
    (settings.yml forecast.early_warning). The flag is written into ops.forecasts with the rule's
    values, and the dbt model rpt_early_warnings only reads it: the rule lives in one place.

Backtest
    `backtest()` refits the model at rolling origins (every 7 days back from the last complete
    week), predicts the next 7 days' volume per community × category, and compares its mean absolute
    error with two seasonal-naive forecasts: the previous 7 days' volume, and the same 7 days 52
    weeks earlier (where the data has them). Results go to ops.forecast_backtests. Read MAE with
    care on sparse pairs: it rewards the median, so where a pair sees less than about one complaint
    a week a forecast of 0 has an MAE equal to the mean volume (the `mean` column) and beats any
    forecast of the mean, this model's included. The model forecasts the mean on purpose: expected
    volumes add up over communities and days, and the surge ratio needs them.

    `model_effects()` lists every coefficient as a multiplier per category, for the analyst.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from minqing import config, warehouse

log = logging.getLogger(__name__)

MODEL_NAME = "poisson-glm-v1"
DAILY_TABLE = "marts.fct_community_category_daily"
SEASON_PRIORITY = ("flood_peak", "heating_start", "flood", "heating")  # most specific first


# --- settings ------------------------------------------------------------------------------------

def settings() -> dict:
    return config.settings()["forecast"]


def model_version(cfg: dict | None = None) -> str:
    """The model's name and a digest of its settings (the backtest's own aside): changing a setting
    changes the version."""
    cfg = {key: value for key, value in (cfg or settings()).items() if key != "backtest"}
    digest = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return f"{MODEL_NAME}-{digest[:8]}"


def _month_day(text: str) -> tuple[int, int]:
    month, day = (int(part) for part in str(text).split("-"))
    return month, day


# --- the calendar --------------------------------------------------------------------------------

def season_flags(days: pd.DatetimeIndex, seasons: dict) -> pd.DataFrame:
    """One 0/1 column per season of the settings for each day (a season may cross the new year)."""
    md = days.month * 100 + days.day
    flags = {}
    for name, season in seasons.items():
        m, d = _month_day(season["start"])
        start = m * 100 + d
        if "days" in season:  # the first `days` days from the start, whichever year it started
            this_year = pd.to_datetime({"year": days.year, "month": m, "day": d})
            started = pd.DatetimeIndex(np.where(md >= start, this_year, this_year - pd.DateOffset(years=1)))
            inside = (days - started).days < int(season["days"])
        else:
            em, ed = _month_day(season["end"])
            end = em * 100 + ed
            inside = (md >= start) & (md <= end) if start <= end else (md >= start) | (md <= end)
        flags[name] = np.asarray(inside, dtype=float)
    return pd.DataFrame(flags, index=days)


def calendar_features(days: pd.DatetimeIndex, seasons: dict) -> np.ndarray:
    """Day of week (7 indicators), season flags, one yearly sine/cosine pair; a row per day."""
    dow = np.eye(7)[days.day_of_week]
    flags = season_flags(days, seasons).to_numpy()
    angle = 2 * math.pi * (days.day_of_year.to_numpy() - 1) / 365.25
    return np.column_stack([dow, flags, np.sin(angle), np.cos(angle)])


def calendar_feature_names(seasons: dict) -> list[str]:
    return ([f"dow_{i}" for i in range(7)] + [f"season_{name}" for name in seasons]
            + ["year_sin", "year_cos"])


def season_label(start: dt.date, end: dt.date, seasons: dict) -> str | None:
    """The most specific season any day of [start, end] falls in, in Chinese; None outside all."""
    days = pd.date_range(start, end, freq="D")
    flags = season_flags(days, seasons)
    for name in [*SEASON_PRIORITY, *[n for n in seasons if n not in SEASON_PRIORITY]]:
        if name in flags and flags[name].any():
            return seasons[name].get("name_zh", name)
    return None


# --- the history, read and aggregated in SQL -----------------------------------------------------

HISTORY_SQL = f"""
with daily as (
    -- summed over streets: 'unresolved' has a row in each street of a district (issue 23), the others one
    select
        date_day,
        community_id,
        category_code,
        sum(received_total - case when %(include_proactive)s then 0 else received_proactive end) as volume
    from {DAILY_TABLE}
    where is_complete_day
      and date_day <= %(end)s
      and date_day >= %(start)s
      and not (community_id = any(%(exclude)s))
    group by date_day, community_id, category_code
)
select
    date_day,
    community_id,
    category_code,
    volume,
    sum(volume) over recent as recent_sum,
    count(*) over recent as recent_days,
    sum(volume) over long_run as long_sum,
    count(*) over long_run as long_days
from daily
window
    recent as (partition by community_id, category_code order by date_day
               range between make_interval(days => %(recent_back)s) preceding and current row),
    long_run as (partition by community_id, category_code order by date_day
                 range between make_interval(days => %(long_back)s) preceding and current row)
order by category_code, community_id, date_day
"""


@dataclass
class History:
    """The daily history as dense arrays [category, community, day] (NaN where the table has no row)."""

    first_day: dt.date
    categories: list[str]
    communities: list[str]
    volume: np.ndarray
    recent_mean: np.ndarray  # mean daily volume over the trend window ending on the day
    long_mean: np.ndarray    # mean daily volume over the baseline window ending on the day
    long_days: np.ndarray    # days the baseline window covers
    recent_sum: np.ndarray

    @property
    def n_days(self) -> int:
        return self.volume.shape[2]

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=self.n_days - 1)

    def index(self, day: dt.date) -> int:
        return (day - self.first_day).days

    def day(self, index: int) -> dt.date:
        return self.first_day + dt.timedelta(days=int(index))


def last_complete_day(conn) -> dt.date | None:
    row = conn.execute(f"select max(date_day) from {DAILY_TABLE} where is_complete_day").fetchone()
    return row[0] if row else None


def load_history(conn, start: dt.date | None, end: dt.date, cfg: dict) -> History | None:
    """The complete days from `start` (None: the beginning) to `end`, with trailing means from SQL."""
    params = {
        "include_proactive": bool(cfg.get("include_proactive", False)),
        "start": start or dt.date(1900, 1, 1),
        "end": end,
        "exclude": list(cfg.get("exclude_communities") or []),
        "recent_back": int(cfg["trend_days"]) - 1,
        "long_back": int(cfg["baseline_days"]) - 1,
    }
    rows = conn.execute(HISTORY_SQL, params).fetchall()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["date_day", "community_id", "category_code", "volume",
                                        "recent_sum", "recent_days", "long_sum", "long_days"])
    first_day = frame["date_day"].min()
    categories = sorted(frame["category_code"].unique())
    communities = sorted(frame["community_id"].unique())
    n_days = (frame["date_day"].max() - first_day).days + 1
    cat_ix = frame["category_code"].map({c: i for i, c in enumerate(categories)}).to_numpy()
    com_ix = frame["community_id"].map({c: i for i, c in enumerate(communities)}).to_numpy()
    day_ix = (pd.to_datetime(frame["date_day"]) - pd.Timestamp(first_day)).dt.days.to_numpy()

    def dense(values) -> np.ndarray:
        out = np.full((len(categories), len(communities), n_days), np.nan)
        out[cat_ix, com_ix, day_ix] = np.asarray(values, dtype=float)
        return out

    recent_sum = frame["recent_sum"].astype(float)
    long_days = frame["long_days"].astype(float)
    return History(
        first_day=first_day,
        categories=categories,
        communities=communities,
        volume=dense(frame["volume"]),
        recent_mean=dense(recent_sum / frame["recent_days"].astype(float)),
        long_mean=dense(frame["long_sum"].astype(float) / long_days),
        long_days=dense(long_days),
        recent_sum=dense(recent_sum),
    )


# --- the model -----------------------------------------------------------------------------------

def trend_feature(recent_mean: np.ndarray, long_mean: np.ndarray, trend_days: int) -> np.ndarray:
    """log((recent mean + pseudo-count) / (long-run mean + pseudo-count)), clipped to [-2, 2].

    The pseudo-count is one complaint per trend window, so that a sparse series (one complaint in
    four weeks against a long-run level of half of one) does not look like a doubling."""
    pseudo = 1.0 / trend_days
    value = np.log((np.nan_to_num(recent_mean) + pseudo) / (np.nan_to_num(long_mean) + pseudo))
    return np.clip(value, -2.0, 2.0)


class CategoryModel:
    """The Poisson regression of one category, pooled over its communities."""

    def __init__(self, n_communities: int, l2_penalty: float):
        self.n_communities = n_communities
        self.l2_penalty = l2_penalty
        self.regressor = None
        self.constant = 0.0  # when the training data has no complaint at all

    def design(self, community_ix: np.ndarray, calendar: np.ndarray, trend: np.ndarray) -> sparse.csr_matrix:
        """The rows' features: each community's indicator, the calendar's, the trend. Sparse: dense, the
        indicators of a city's 900 communities took 600 MB a category and the solver's X'WX most of the
        forecast (5.7 s of a 300-street day); sparse, the same Newton-Cholesky steps cost next to nothing."""
        indicators = sparse.csr_matrix((np.ones(len(community_ix)), (np.arange(len(community_ix)), community_ix)),
                                       shape=(len(community_ix), self.n_communities))
        return sparse.hstack([indicators, sparse.csr_matrix(np.column_stack([calendar, trend]))], format="csr")

    def fit(self, X: sparse.csr_matrix, y: np.ndarray) -> CategoryModel:
        from sklearn.linear_model import PoissonRegressor
        from threadpoolctl import threadpool_limits

        if y.sum() == 0:
            self.regressor = None
            return self
        # Newton-Cholesky: few features, many rows; converges in a handful of iterations.
        self.regressor = PoissonRegressor(alpha=self.l2_penalty, solver="newton-cholesky", max_iter=100)
        # one BLAS thread: on matrices this small, more threads only fight each other (×15 slower)
        with threadpool_limits(limits=1):
            self.regressor.fit(X, y)
        return self

    def predict(self, X: sparse.csr_matrix) -> np.ndarray:
        if self.regressor is None:
            return np.full(X.shape[0], self.constant)
        return self.regressor.predict(X)


def _training_rows(history: History, cat: int, origin_ix: int, history_days: int, horizon: int,
                   trend_all: np.ndarray):
    """The training rows of a category for a forecast made at day `origin_ix`: days of the history
    window with a row, each with the trend of the day before its horizon-sized block."""
    first = max(0, origin_ix - history_days + 1)
    days = np.arange(first, origin_ix + 1)
    reference = origin_ix - horizon * ((origin_ix - days) // horizon + 1)
    n_com = len(history.communities)
    com = np.repeat(np.arange(n_com), len(days))
    day = np.tile(days, n_com)
    ref = np.tile(reference, n_com)
    y = history.volume[cat, com, day]
    trend = np.where(ref >= 0, trend_all[cat, com, np.maximum(ref, 0)], 0.0)
    keep = ~np.isnan(y)
    return com[keep], day[keep], trend[keep], y[keep]


def _fit_and_predict(history: History, origin_ix: int, cfg: dict, calendar: np.ndarray,
                     trend_all: np.ndarray, history_days: int | None = None,
                     models: dict | None = None) -> np.ndarray:
    """Expected volume over the horizon after `origin_ix`, as an array [category, community]; the
    fitted models are put into `models` (category -> CategoryModel) when a dict is given."""
    horizon = int(cfg["horizon_days"])
    history_days = int(history_days or cfg["history_days"])
    n_com = len(history.communities)
    expected = np.zeros((len(history.categories), n_com))
    future = np.arange(origin_ix + 1, origin_ix + horizon + 1)
    for cat, category in enumerate(history.categories):
        com, day, trend, y = _training_rows(history, cat, origin_ix, history_days, horizon, trend_all)
        model = CategoryModel(n_com, float(cfg.get("l2_penalty", 0.001)))
        model.fit(model.design(com, calendar[day], trend), y)
        f_com = np.repeat(np.arange(n_com), horizon)
        f_day = np.tile(future, n_com)
        f_trend = trend_all[cat, f_com, origin_ix]
        predicted = model.predict(model.design(f_com, calendar[f_day], f_trend))
        expected[cat] = predicted.reshape(n_com, horizon).sum(axis=1)
        if models is not None:
            models[category] = model
    return expected


def _history_start(as_of: dt.date, cfg: dict) -> dt.date:
    """The first day a forecast at `as_of` reads: its training window, and before it the baseline
    window that the trend feature of the window's first days looks back on."""
    return as_of - dt.timedelta(days=int(cfg["history_days"]) + int(cfg["baseline_days"]) + int(cfg["horizon_days"]))


def _calendar_for(history: History, extra_days: int, seasons: dict) -> np.ndarray:
    days = pd.date_range(history.first_day, periods=history.n_days + extra_days, freq="D")
    return calendar_features(days, seasons)


# --- forecast ------------------------------------------------------------------------------------

FORECAST_COLUMNS = [
    "as_of", "community_id", "category_code", "horizon_start", "horizon_end", "expected_volume",
    "baseline_volume", "baseline_days", "surge_ratio", "recent_volume", "trend_ratio", "season_zh",
    "is_early_warning", "warning_margin", "min_expected_volume", "baseline_floor", "model_version",
]


def forecast(as_of: dt.date | None = None, conn=None) -> pd.DataFrame:
    """Expected volume of the `horizon_days` days after `as_of` per community × category, with the
    pair's baseline, the ratio and the early-warning flag. `as_of` defaults to the last complete
    day of the history; it must not lie after it. Empty when there is no history."""
    cfg = settings()
    if conn is None:
        with warehouse.connect() as own:
            return forecast(as_of, own)
    last = last_complete_day(conn)
    if last is None:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    as_of = as_of or last
    if as_of > last:
        raise RuntimeError(f"forecast as of {as_of}: the history ends on {last} "
                           f"(the last complete day of {DAILY_TABLE})")
    horizon = int(cfg["horizon_days"])
    history = load_history(conn, _history_start(as_of, cfg), as_of, cfg)
    if history is None:
        return pd.DataFrame(columns=FORECAST_COLUMNS)
    origin_ix = history.index(as_of)
    calendar = _calendar_for(history, horizon, cfg["seasons"])
    trend_all = trend_feature(history.recent_mean, history.long_mean, int(cfg["trend_days"]))
    expected = _fit_and_predict(history, origin_ix, cfg, calendar, trend_all)

    rule = cfg["early_warning"]
    margin, min_expected, floor = float(rule["margin"]), float(rule["min_expected"]), float(rule["baseline_floor"])
    horizon_start, horizon_end = as_of + dt.timedelta(days=1), as_of + dt.timedelta(days=horizon)
    season = season_label(horizon_start, horizon_end, cfg["seasons"])
    version = model_version(cfg)
    rows = []
    for cat, category in enumerate(history.categories):
        for com, community in enumerate(history.communities):
            long_mean = history.long_mean[cat, com, origin_ix]
            if np.isnan(long_mean):  # the pair has no row on the forecast day
                continue
            baseline = float(long_mean) * horizon
            value = float(expected[cat, com])
            ratio = value / max(baseline, floor)
            recent_mean = float(history.recent_mean[cat, com, origin_ix])
            rows.append({
                "as_of": as_of,
                "community_id": community,
                "category_code": category,
                "horizon_start": horizon_start,
                "horizon_end": horizon_end,
                "expected_volume": round(value, 2),
                "baseline_volume": round(baseline, 2),
                "baseline_days": int(history.long_days[cat, com, origin_ix]),
                "surge_ratio": round(ratio, 2),
                "recent_volume": int(history.recent_sum[cat, com, origin_ix]),
                "trend_ratio": round(recent_mean / long_mean, 2) if long_mean > 0 else None,
                "season_zh": season,
                "is_early_warning": bool(ratio >= margin and value >= min_expected),
                "warning_margin": margin,
                "min_expected_volume": min_expected,
                "baseline_floor": floor,
                "model_version": version,
            })
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def model_effects(as_of: dt.date | None = None) -> pd.DataFrame:
    """What the model learnt, per category: every feature's coefficient and its multiplier
    exp(coefficient) — e.g. waterlogging × season_flood_peak 3.2 means "in the flood peak, three times
    as many waterlogging complaints as otherwise". Fitted as `forecast(as_of)` fits them."""
    cfg = settings()
    columns = ["category_code", "feature", "coefficient", "multiplier"]
    with warehouse.connect() as conn:
        as_of = as_of or last_complete_day(conn)
        history = load_history(conn, _history_start(as_of, cfg), as_of, cfg) if as_of else None
    if history is None:
        return pd.DataFrame(columns=columns)
    calendar = _calendar_for(history, int(cfg["horizon_days"]), cfg["seasons"])
    trend_all = trend_feature(history.recent_mean, history.long_mean, int(cfg["trend_days"]))
    models: dict[str, CategoryModel] = {}
    _fit_and_predict(history, history.index(as_of), cfg, calendar, trend_all, models=models)
    names = ([f"community_{c}" for c in history.communities] + calendar_feature_names(cfg["seasons"]) + ["trend"])
    rows = []
    for category, model in models.items():
        if model.regressor is None:
            continue
        coefficients = [("intercept", model.regressor.intercept_), *zip(names, model.regressor.coef_)]
        rows += [(category, name, float(value), float(np.exp(value))) for name, value in coefficients]
    return pd.DataFrame(rows, columns=columns)


INSERT_SQL = f"""
insert into ops.forecasts ({", ".join(FORECAST_COLUMNS)})
values ({", ".join(["%s"] * len(FORECAST_COLUMNS))})
"""


def write_forecasts(as_of: dt.date | None = None) -> pd.DataFrame:
    """Forecast and store in ops.forecasts, replacing the rows of the same as_of in one transaction
    (so running it twice for a day leaves one set of rows). Returns what was written."""
    warehouse.migrate()
    with warehouse.connect() as conn:
        frame = forecast(as_of, conn)
        if frame.empty:
            return frame
        day = frame["as_of"].iloc[0]
        records = [tuple(None if _missing(v) else v for v in row)
                   for row in frame[FORECAST_COLUMNS].itertuples(index=False, name=None)]
        with conn.transaction():
            conn.execute("delete from ops.forecasts where as_of = %s", (day,))
            with conn.cursor() as cur:
                cur.executemany(INSERT_SQL, records)
        conn.commit()
    log.info("forecast as of %s: %d pairs, %d early warnings", day, len(frame), int(frame["is_early_warning"].sum()))
    return frame


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def forecast_step(as_of: dt.date | None = None) -> dict:
    """The pipeline step: after `dbt build` (it reads fct_community_category_daily) and before
    building rpt_early_warnings. Writes ops.forecasts for `as_of` (default: the last complete day)."""
    frame = write_forecasts(as_of)
    if frame.empty:
        return {"as_of": None, "pairs": 0, "early_warnings": 0, "model_version": model_version()}
    return {
        "as_of": frame["as_of"].iloc[0].isoformat(),
        "pairs": len(frame),
        "early_warnings": int(frame["is_early_warning"].sum()),
        "model_version": frame["model_version"].iloc[0],
    }


def forecast_lines(frame: pd.DataFrame, top: int = 10) -> list[str]:
    """What `minqing forecast` prints: the forecast written and its top expected surges."""
    if frame.empty:
        return [f"forecast: {DAILY_TABLE} has no complete day; nothing written"]
    first = frame.iloc[0]
    lines = [
        f"forecast {first['model_version']} as of {first['as_of']}: {len(frame)} community × category pairs, "
        f"{first['horizon_start']} .. {first['horizon_end']}"
        f"{'（' + first['season_zh'] + '）' if first['season_zh'] else ''}; "
        f"{int(frame['is_early_warning'].sum())} early warnings "
        f"(expected >= {first['warning_margin']:g} × baseline and >= {first['min_expected_volume']:g})",
        "top expected surges:",
        f"  {'community':<14} {'category':<17} {'expected':>8} {'baseline':>8} {'ratio':>6}  warns",
    ]
    ranked = frame.sort_values(["is_early_warning", "surge_ratio", "expected_volume"], ascending=False).head(top)
    for row in ranked.itertuples(index=False):
        lines.append(f"  {row.community_id:<14} {row.category_code:<17} {row.expected_volume:>8.1f} "
                     f"{row.baseline_volume:>8.1f} {row.surge_ratio:>6.2f}  {'yes' if row.is_early_warning else ''}")
    lines.append("written to ops.forecasts; build rpt_early_warnings to publish the warnings")
    return lines


# --- backtest ------------------------------------------------------------------------------------

def backtest(origins: int | None = None, history_days: int | None = None, write: bool = True) -> dict:
    """Rolling-origin backtest: at each origin (every `step_days` back from the last complete
    horizon), fit on the `history_days` before it, predict the next horizon's volume per community ×
    category and compare the mean absolute error with the previous week's volume (naive_week) and
    the same days 52 weeks earlier (naive_year, where the history has them). Per category and
    'overall'; stored in ops.forecast_backtests when `write`."""
    cfg = settings()
    bt = cfg.get("backtest", {})
    origins = int(origins or bt.get("origins", 52))
    history_days = int(history_days or cfg["history_days"])
    horizon = int(cfg["horizon_days"])
    step = int(bt.get("step_days", horizon))
    min_history = int(bt.get("min_history_days", 91))
    year = 364  # 52 weeks: the same weekdays a year earlier

    with warehouse.connect() as conn:
        last = last_complete_day(conn)
        history = load_history(conn, None, last, cfg) if last else None
    if history is None:
        raise RuntimeError(f"backtest: {DAILY_TABLE} has no complete day")
    last_ix = history.n_days - 1
    candidates = [last_ix - horizon - step * k for k in range(origins)]
    origin_ixs = sorted(o for o in candidates if o + 1 >= max(min_history, horizon))
    if not origin_ixs:
        raise RuntimeError(f"backtest: the history ({history.n_days} days) is too short for one origin "
                           f"(needs {max(min_history, horizon) + horizon} days)")
    calendar = _calendar_for(history, horizon, cfg["seasons"])
    trend_all = trend_feature(history.recent_mean, history.long_mean, int(cfg["trend_days"]))
    volume = np.nan_to_num(history.volume)
    present = ~np.isnan(history.volume)

    records = []
    for o in origin_ixs:
        predicted = _fit_and_predict(history, o, cfg, calendar, trend_all, history_days)
        ahead = slice(o + 1, o + horizon + 1)
        actual = volume[:, :, ahead].sum(axis=2)
        complete = present[:, :, ahead].all(axis=2) & present[:, :, o - horizon + 1:o + 1].all(axis=2)
        naive_week = volume[:, :, o - horizon + 1:o + 1].sum(axis=2)
        has_year = o + 1 - year >= 0
        naive_year = (volume[:, :, o + 1 - year:o + 1 - year + horizon].sum(axis=2) if has_year
                      else np.full(actual.shape, np.nan))
        if has_year:
            complete_year = present[:, :, o + 1 - year:o + 1 - year + horizon].all(axis=2)
            naive_year = np.where(complete_year, naive_year, np.nan)
        for cat, category in enumerate(history.categories):
            for com in range(len(history.communities)):
                if not complete[cat, com]:
                    continue
                records.append((o, category, actual[cat, com], predicted[cat, com],
                                naive_week[cat, com], naive_year[cat, com]))
    frame = pd.DataFrame(records, columns=["origin", "category_code", "actual", "model", "naive_week", "naive_year"])
    run_at = dt.datetime.now(dt.timezone.utc)
    version = model_version(cfg)
    first_origin, last_origin = history.day(origin_ixs[0]), history.day(origin_ixs[-1])

    def summarise(part: pd.DataFrame) -> dict:
        err_model = (part["model"] - part["actual"]).abs()
        err_week = (part["naive_week"] - part["actual"]).abs()
        with_year = part["naive_year"].notna()
        err_year = (part.loc[with_year, "naive_year"] - part.loc[with_year, "actual"]).abs()
        model_mae, week_mae = float(err_model.mean()), float(err_week.mean())
        return {
            "model_mae": round(model_mae, 3),
            "naive_week_mae": round(week_mae, 3),
            "naive_year_mae": round(float(err_year.mean()), 3) if with_year.any() else None,
            "model_mae_year_pairs": round(float(err_model[with_year].mean()), 3) if with_year.any() else None,
            "origins": int(part["origin"].nunique()),
            "pairs": int(len(part)),
            "year_pairs": int(with_year.sum()),
            "actual_mean": round(float(part["actual"].mean()), 3),
            "beats_naive_week": bool(model_mae < week_mae),
        }

    categories = {code: summarise(part) for code, part in frame.groupby("category_code", sort=True)}
    result = {
        "run_at": run_at.isoformat(),
        "model_version": version,
        "history_days": history_days,
        "horizon_days": horizon,
        "origins": len(origin_ixs),
        "first_origin": first_origin.isoformat(),
        "last_origin": last_origin.isoformat(),
        "categories": categories,
        "overall": summarise(frame),
    }
    if write:
        _write_backtest(result, run_at, first_origin, last_origin)
    return result


def _write_backtest(result: dict, run_at: dt.datetime, first_origin: dt.date, last_origin: dt.date) -> None:
    warehouse.migrate()
    rows = [(code, figures) for code, figures in result["categories"].items()] + [("overall", result["overall"])]
    with warehouse.connect() as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                """insert into ops.forecast_backtests
                       (run_at, category_code, model_mae, naive_week_mae, naive_year_mae, model_mae_year_pairs,
                        origins, pairs, year_pairs, actual_mean, beats_naive_week, first_origin, last_origin,
                        history_days, model_version)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [(run_at, code, f["model_mae"], f["naive_week_mae"], f["naive_year_mae"], f["model_mae_year_pairs"],
                  f["origins"], f["pairs"], f["year_pairs"], f["actual_mean"], f["beats_naive_week"],
                  first_origin, last_origin, result["history_days"], result["model_version"])
                 for code, f in rows],
            )


def backtest_lines(result: dict) -> list[str]:
    """The backtest as a table for the terminal."""
    lines = [
        f"backtest {result['model_version']}: {result['origins']} origins "
        f"{result['first_origin']} .. {result['last_origin']}, {result['horizon_days']}-day volumes, "
        f"history {result['history_days']} days",
        f"{'category':<17} {'pairs':>6} {'mean':>6} {'model':>7} {'naive_wk':>8} {'naive_yr':>8} "
        f"{'model*':>7}  beats naive_wk",
    ]

    def line(code: str, f: dict) -> str:
        year = "—" if f["naive_year_mae"] is None else f"{f['naive_year_mae']:.3f}"
        model_year = "—" if f["model_mae_year_pairs"] is None else f"{f['model_mae_year_pairs']:.3f}"
        return (f"{code:<17} {f['pairs']:>6} {f['actual_mean']:>6.2f} {f['model_mae']:>7.3f} "
                f"{f['naive_week_mae']:>8.3f} {year:>8} {model_year:>7}  {'yes' if f['beats_naive_week'] else 'NO'}")

    lines += [line(code, f) for code, f in result["categories"].items()]
    lines.append(line("overall", result["overall"]))
    lines.append("MAE of the 7-day volume per community × category × origin; mean = mean actual volume; "
                 "model* = the model's MAE on the pairs that have a same-period-last-year value (naive_yr's pairs).")
    return lines
