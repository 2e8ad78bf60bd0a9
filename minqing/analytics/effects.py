"""Did it work? The effect of a street's intervention on complaints, against comparable communities (issue 20).

A before/after chart credits an intervention with the season, the city-wide trend and chance. This
module compares the treated community's weekly complaints with those of the street's other communities
over the same weeks, two ways, and says how far chance alone could have gone:

1. **Difference-in-differences on counts** (the main estimate). A Poisson regression of each community's
   weekly complaints on a level per community, a level per week (the season and everything the
   communities share) and an indicator of the treated community after the start:
   log E[y_cw] = α_c + γ_w + β·treated_after. effect = exp(β) − 1, as a share of what the community
   would have had without it (statsmodels' GLM).
2. **Synthetic control** (the second estimate). Each community's weekly series is indexed to its own
   pre-period mean (per 1,000 households when the seed knows them); non-negative donor weights summing to
   one make the donors' mix follow the treated community's pre-period (scipy's NNLS with the sum
   constraint as a heavy extra row); effect = the treated series over its synthetic twin after the start.

**Inference with one treated community.** A regression's standard error assumes many treated units; with
one, its interval is too narrow. The interval and p-value come from placebos instead:

- in space: each comparison community in turn treated from the same start (the real one left out): the
  permutation p-value is the share of placebo estimates at least as far from zero as the real one
  (the real one counted, so the smallest possible p is 1/(donors + 1));
- in time: every community (the treated one included) treated from fake starts inside the pre-period,
  estimated on pre-period weeks only, where no effect can be. The treated community's own fake start in
  the middle of its pre-period, against every other placebo, is the check that the communities moved
  together before the start.

The placebo estimates are studentized (each divided by its own quasi-Poisson standard error), so that a
small community's noisier estimate does not set the width for a large one; the interval is the real
estimate ± a placebo |t| times the real estimate's standard error — the |t| of the rank at which the
placebo p-value crosses 0.05, so that the interval leaves out 0 when p < 0.05 (the approach of Conley &
Taber, 2011, with Ferman & Pinto's correction for communities of different size).

**Warnings** (settings.yml `effects`): a pre-period shorter than `min_pre_weeks`; fewer comparison
communities than `min_donors`; the synthetic control's pre-period misfit above `max_pre_misfit` (the
donors cannot reproduce the community); a time placebo at the middle of the pre-period significant at
5% (the communities did not move together before the start); communities left out of the comparison
because another intervention of the seed touched them in the window.

The event study shows the effect by blocks of weeks relative to the start, each against the mean of the
blocks before it; the blocks before the start, scattered around 0, are the check that the comparison held.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minqing import config

WEEKS_PER_MONTH = 365.25 / 12 / 7


@dataclass(frozen=True)
class Settings:
    """settings.yml `effects`."""

    min_pre_weeks: int
    min_donors: int
    max_pre_misfit: float
    event_block_weeks: int
    time_placebo_starts: int
    level: float
    seasons: dict             # forecast.seasons named in effects.seasons: {name: its dates}
    min_season_weeks: float

    @classmethod
    def load(cls) -> Settings:
        cfg = config.settings()["effects"]
        known = config.settings()["forecast"]["seasons"]
        return cls(int(cfg["min_pre_weeks"]), int(cfg["min_donors"]), float(cfg["max_pre_misfit"]),
                   int(cfg["event_block_weeks"]), int(cfg["time_placebo_starts"]), float(cfg["level"]),
                   {name: known[name] for name in cfg["seasons"]}, float(cfg["min_season_weeks"]))


@dataclass(frozen=True)
class Seasonality:
    """Each community's own level in each season (the flood and heating seasons of domain.md): the week
    levels take what the communities share, but an older estate's mix turns to leaks and standing water in
    the flood season more than a well-run one's. A season enters the model only where the weeks before the
    start hold at least `min_weeks` weeks in it and as many outside it, so that each community's seasonal
    level is learnt from its own weeks before the start and not from those after."""

    shares: pd.DataFrame   # week (Monday) × season: the share of the week's seven days in the season
    min_weeks: float

    @classmethod
    def of(cls, weeks: pd.DatetimeIndex, settings: Settings) -> Seasonality:
        from minqing.analytics.forecast import season_flags

        days = pd.date_range(weeks.min(), weeks.max() + pd.Timedelta(days=6)) if len(weeks) else pd.DatetimeIndex([])
        flags = season_flags(days, settings.seasons)
        monday = days - pd.to_timedelta(days.day_of_week, unit="D")
        return cls(flags.groupby(monday).mean().reindex(weeks).fillna(0.0), settings.min_season_weeks)

    def design(self, panel: pd.DataFrame, start: pd.Timestamp, without: str | None = None) -> np.ndarray | None:
        """Community × season columns (every community but the first: the week levels hold the common
        season; and but `without`, whose every block of weeks the event study frees), rows as `_fit`
        flattens the panel; None when no season has its weeks before the start."""
        shares = self.shares.reindex(panel.columns).fillna(0.0)
        before = shares.loc[shares.index < start]
        kept = [s for s in shares if before[s].sum() >= self.min_weeks and (1 - before[s]).sum() >= self.min_weeks]
        own = [i for i, c in enumerate(panel.index) if i > 0 and c != without]
        if not kept or not own:
            return None
        return np.kron(np.eye(panel.shape[0])[:, own], shares[kept].to_numpy())


@dataclass
class Estimate:
    """What `estimate` finds for one treated community and start."""

    treated: str            # the community, or several joined by '+' (taken together)
    start: pd.Timestamp
    pre_weeks: int
    post_weeks: int
    donors: list[str]
    effect_pct: float | None = None
    ci_low_pct: float | None = None
    ci_high_pct: float | None = None
    p_value: float | None = None            # from every placebo, in space and in time
    space_p_value: float | None = None      # from the comparison communities' placebos alone (≥ 1 / (donors + 1))
    effect_per_month: float | None = None   # complaints a month the intervention made (negative: fewer)
    expected_per_month: float | None = None  # what the model expects without it, after the start
    method: str = "poisson_did"
    level: float | None = None              # the interval's (settings.yml effects.level)
    time_placebo_p: float | None = None
    synthetic: dict = field(default_factory=dict)
    event_study: list[dict] = field(default_factory=list)
    placebos: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    communities: list[str] = field(default_factory=list)  # the treated communities

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["start"] = self.start.date().isoformat()
        return out


def _pct(beta: float) -> float | None:
    """exp(β) − 1 in %; None where β is beyond any reading (a block without a complaint on one side makes
    its interval run to ±∞)."""
    if not math.isfinite(beta) or beta > 20:
        return None
    return round(100 * math.expm1(max(beta, -20.0)), 1)


# --- the Poisson difference-in-differences ------------------------------------------------------------

def _fit(panel: pd.DataFrame, regressors: np.ndarray, seasonal: np.ndarray | None = None):
    """The Poisson regression of the panel's counts (communities × weeks, flattened row by row) on
    `regressors` (one column each, rows aligned) plus a level per community and per week, with the
    quasi-Poisson scale (Pearson χ² over the residual degrees of freedom). Returns statsmodels' result:
    the regressors are its first parameters."""
    import statsmodels.api as sm

    n_c, n_w = panel.shape
    communities = np.kron(np.eye(n_c), np.ones((n_w, 1)))
    weeks = np.kron(np.ones((n_c, 1)), np.eye(n_w))[:, 1:]
    design = np.hstack([regressors.reshape(n_c * n_w, -1), communities, weeks]
                       + ([] if seasonal is None else [seasonal]))
    return sm.GLM(panel.to_numpy(float).ravel(), design, family=sm.families.Poisson()).fit(scale="X2")


def treated_after(panel: pd.DataFrame, treated: str, start: pd.Timestamp) -> np.ndarray:
    """1 for the treated community's weeks from the start, rows as `_fit` flattens them."""
    return np.outer(panel.index == treated, panel.columns >= start).astype(float).ravel()


def poisson_did(panel: pd.DataFrame, treated: str, start: pd.Timestamp, seasons: Seasonality | None = None):
    """(β, its quasi-Poisson standard error, the fitted result) of log E[y] = α_c + γ_w + β·D, D = 1 for
    `treated` from `start` (+ each community's seasonal levels, `seasons`)."""
    result = _fit(panel, treated_after(panel, treated, start), seasons and seasons.design(panel, start))
    return float(result.params[0]), float(result.bse[0]), result


def _usable(panel: pd.DataFrame) -> pd.DataFrame:
    """Communities with at least one complaint in the panel (a community's level is −∞ otherwise)."""
    return panel.loc[panel.sum(axis=1) > 0]


def _both_sides(panel: pd.DataFrame, community: str, start: pd.Timestamp) -> bool:
    """Whether the community has complaints both before and from the start (else its estimate is ±∞)."""
    row = panel.loc[community]
    return bool(row[panel.columns < start].sum() and row[panel.columns >= start].sum())


def _space_placebos(panel: pd.DataFrame, treated: str, start: pd.Timestamp, seasons: Seasonality | None) -> list[dict]:
    out = []
    others = panel.drop(index=treated)
    for donor in others.index:
        if not _both_sides(others, donor, start):
            continue
        beta, se, _ = poisson_did(others, donor, start, seasons)
        out.append({"kind": "space", "community": donor, "start": start.date().isoformat(), "beta": beta, "se": se})
    return out


def _time_placebos(panel: pd.DataFrame, start: pd.Timestamp, starts: int, min_weeks: int,
                   seasons: Seasonality | None) -> list[dict]:
    """Every community treated from `starts` fake starts spread over the pre-period, each estimated on the
    weeks before the fake start and as many after it as the real estimate has (or to the real start, when
    the pre-period is too short for that): where no effect can be, over a window like the real one."""
    pre = panel.loc[:, panel.columns < start]
    post_weeks = int((panel.columns >= start).sum())
    weeks = list(pre.columns)
    if len(weeks) < 2 * min_weeks:
        return []
    last_start = max(min_weeks, len(weeks) - post_weeks)
    positions = np.linspace(min_weeks, last_start, num=starts).round().astype(int)
    out = []
    for position in sorted(set(positions)):
        fake = weeks[position]
        window = _usable(pre.iloc[:, :position + post_weeks])
        for community in window.index:
            if not _both_sides(window, community, fake):
                continue
            beta, se, _ = poisson_did(window, community, fake, seasons)
            out.append({"kind": "time", "community": community, "start": fake.date().isoformat(), "beta": beta, "se": se})
    return out


def _event_study(panel: pd.DataFrame, treated: str, start: pd.Timestamp, block: int, z: float,
                 seasons: Seasonality | None) -> list[dict]:
    """The treated community's difference by blocks of `block` weeks relative to the start, each against the
    mean of the blocks before the start (as the main estimate compares the weeks after with all the weeks
    before: one block of a few complaints as the reference would shift every other block with its noise),
    with the model's interval (quasi-Poisson: approximate, narrower than the placebo interval of the main
    estimate). The blocks before the start scatter around 0 when the comparison holds."""
    relative = ((panel.columns - start) / pd.Timedelta(weeks=1)).astype(int)
    blocks = np.floor_divide(relative, block)
    keys = sorted(set(blocks) - {-1})  # the block just before the start is the regression's reference
    mine = (panel.index == treated).astype(float)
    regressors = np.column_stack([np.outer(mine, blocks == k).ravel() for k in keys])
    result = _fit(panel, regressors, seasons and seasons.design(panel, start, without=treated))
    params = np.asarray(result.params)[:len(keys)]
    cov = np.asarray(result.cov_params())[:len(keys), :len(keys)]
    every = sorted({*keys, -1})
    before = [k for k in every if k < 0]
    mean_before = np.array([1.0 / len(before) if k in before else 0.0 for k in keys])
    out = []
    for k in every:
        contrast = -mean_before + np.array([1.0 if key == k else 0.0 for key in keys])
        beta, se = float(contrast @ params), float(math.sqrt(max(contrast @ cov @ contrast, 0.0)))
        out.append({"block": int(k), "from_week": int(k * block), "to_week": int(k * block + block - 1),
                    "effect_pct": _pct(beta), "ci_low_pct": _pct(beta - z * se), "ci_high_pct": _pct(beta + z * se)})
    return out


# --- the synthetic control ---------------------------------------------------------------------------------

def _blocks(panel: pd.DataFrame, start: pd.Timestamp, block: int) -> pd.DataFrame:
    """Sums over blocks of `block` weeks counted from the start (a block never straddles it; an incomplete
    block at either end is left out), labelled by their first week."""
    relative = ((panel.columns - start) / pd.Timedelta(weeks=1)).astype(int)
    keys = np.floor_divide(relative, block)
    sizes = pd.Series(keys).value_counts()
    whole = [k for k in sorted(set(keys)) if sizes[k] == block]
    return pd.DataFrame({panel.columns[keys == k][0]: panel.loc[:, keys == k].sum(axis=1) for k in whole})


def synthetic_control(panel: pd.DataFrame, treated: str, start: pd.Timestamp, block: int = 4,
                      households: pd.Series | None = None) -> dict:
    """Donor weights (non-negative, summing to 1) fitted on the pre-period of the series in blocks of `block`
    weeks (a week's few complaints are mostly noise), each indexed to its pre-period mean; the effect after
    the start; the pre-period misfit (root mean squared gap, in units of the treated level); and a
    permutation p-value from each donor's own synthetic control (post/pre misfit ratio, Abadie)."""
    series = _blocks(panel, start, block).astype(float)
    if series.empty or not (series.columns < start).any() or not (series.columns >= start).any():
        return {"effect_pct": None, "p_value": None, "pre_misfit": None, "weights": {}, "block_weeks": block,
                "missing": f"干预前后需各有至少一个完整的 {block} 周段"}
    per_households = False
    if households is not None:
        known = households.reindex(series.index)
        per_households = bool(known.notna().all() and (known > 0).all())
        if per_households:
            series = series.div(known, axis=0) * 1000
    pre_cols, post_cols = series.columns < start, series.columns >= start
    level = series.loc[:, pre_cols].mean(axis=1)
    indexed = series.loc[level > 0].div(level[level > 0], axis=0)

    def fit(target: str, pool: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        from scipy.optimize import nnls

        donors = pool.drop(index=target)
        x0, x1 = donors.loc[:, pre_cols].to_numpy().T, pool.loc[target, pre_cols].to_numpy()
        heavy = 100.0 * math.sqrt(len(x1))  # the sum-to-one row outweighs the fit
        weights, _ = nnls(np.vstack([x0, np.full((1, x0.shape[1]), heavy)]), np.append(x1, heavy))
        weights = pd.Series(weights / weights.sum(), index=donors.index)
        return weights, donors.T @ weights

    weights, twin = fit(treated, indexed)
    actual = indexed.loc[treated]
    gap = actual - twin
    pre_rmspe = float(np.sqrt((gap[pre_cols] ** 2).mean()))
    post_rmspe = float(np.sqrt((gap[post_cols] ** 2).mean()))
    effect = float(actual[post_cols].mean() / twin[post_cols].mean() - 1) if twin[post_cols].mean() > 0 else None
    ratios = []
    for donor in indexed.index.drop(treated):
        _, its_twin = fit(donor, indexed.drop(index=treated))
        its_gap = indexed.loc[donor] - its_twin
        pre = float(np.sqrt((its_gap[pre_cols] ** 2).mean()))
        ratios.append(float(np.sqrt((its_gap[post_cols] ** 2).mean())) / pre if pre > 0 else math.inf)
    ratio = post_rmspe / pre_rmspe if pre_rmspe > 0 else math.inf
    p_value = (1 + sum(r >= ratio for r in ratios)) / (1 + len(ratios))
    return {"effect_pct": None if effect is None else round(100 * effect, 1), "p_value": round(p_value, 4),
            "pre_misfit": round(pre_rmspe, 4), "weights": {k: round(float(v), 4) for k, v in weights.items() if v > 0.0005},
            "treated_index": [round(float(v), 4) for v in actual], "synthetic_index": [round(float(v), 4) for v in twin],
            "weeks": [w.date().isoformat() for w in indexed.columns], "block_weeks": block,
            "rates": "per_1000_households" if per_households else "complaints"}


# --- the estimate --------------------------------------------------------------------------------------------

def estimate(panel: pd.DataFrame, treated, start, end=None, households: pd.Series | None = None,
             settings: Settings | None = None, left_out: dict[str, str] | None = None) -> Estimate:
    """The effect of an intervention in `treated` (a community, or several: taken together as one) from
    `start` (to `end`, when it ended: later weeks are left out) on `panel`: weekly complaints, communities ×
    week starts (Mondays). `left_out`: communities not to compare with, and why (another intervention)."""
    settings = settings or Settings.load()
    start = pd.Timestamp(start)
    members = [treated] if isinstance(treated, str) else list(treated)
    treated = "+".join(members)
    if end is not None:
        panel = panel.loc[:, panel.columns <= pd.Timestamp(end)]
    missing = [c for c in members if c not in panel.index]
    left_out = {c: why for c, why in (left_out or {}).items() if c not in members and c in panel.index}
    panel = panel.drop(index=list(left_out))
    if not len(panel.columns):
        result = Estimate(treated, start, 0, 0, [c for c in panel.index if c not in members], level=settings.level)
        result.communities = members
        result.warnings.append("尚无完整的一周（周一至周日）数据，无法估计")
        return result
    if len(members) > 1 and not missing:  # several communities, one treated unit
        panel = pd.concat([panel.drop(index=members), panel.loc[members].sum().to_frame(treated).T])
        if households is not None:
            households = pd.concat([households.drop(index=members, errors="ignore"),
                                    pd.Series({treated: households.reindex(members).sum(min_count=len(members))})])
    panel = _usable(panel)
    pre_weeks = int((panel.columns < start).sum())
    post_weeks = int((panel.columns >= start).sum())
    result = Estimate(treated, start, pre_weeks, post_weeks, [c for c in panel.index if c != treated],
                      level=settings.level)
    result.communities = members
    result.warnings += [f"{c} 未作对照：{why}" for c, why in sorted(left_out.items())]
    if missing or treated not in panel.index:
        result.warnings.append(f"{'、'.join(missing or members)} 在所选时段和类别没有诉求记录，无法估计")
        return result
    if pre_weeks == 0 or post_weeks == 0:
        result.warnings.append("干预开始前或开始后没有完整的周，无法估计")
        return result
    if pre_weeks < settings.min_pre_weeks:
        result.warnings.append(f"干预前只有 {pre_weeks} 周（少于 {settings.min_pre_weeks} 周）：对照是否可比难以检验")
    if len(result.donors) < settings.min_donors:
        result.warnings.append(f"对照社区只有 {len(result.donors)} 个（少于 {settings.min_donors} 个）：置信区间和 p 值很粗")
    if len(result.donors) < 2:
        result.warnings.append("对照社区不足两个，无法估计")
        return result

    seasons = Seasonality.of(panel.columns, settings) if settings.seasons else None
    beta, se, fitted = poisson_did(panel, treated, start, seasons)
    z = _normal_quantile(0.5 + settings.level / 2)
    placebos = _space_placebos(panel, treated, start, seasons) + _time_placebos(
        panel, start, settings.time_placebo_starts, max(4, settings.min_pre_weeks // 2), seasons)
    result.placebos = [{**p, "effect_pct": _pct(p["beta"])} for p in placebos]
    t_values = np.array([p["beta"] / p["se"] for p in placebos if p["se"] > 0])
    space = np.array([p["beta"] / p["se"] for p in placebos if p["kind"] == "space" and p["se"] > 0])
    result.effect_pct = _pct(beta)
    if len(t_values) >= 2:
        # symmetric, at the placebos' |t| of the rank at which p crosses 1 − level: the interval leaves out
        # 0 when p < 1 − level (ties aside)
        rank = max(1, math.ceil((1 - settings.level) * (len(t_values) + 1) - 1))
        half = float(np.sort(np.abs(t_values))[::-1][min(rank, len(t_values)) - 1])
        result.ci_low_pct, result.ci_high_pct = _pct(beta - half * se), _pct(beta + half * se)
    else:
        result.ci_low_pct, result.ci_high_pct = _pct(beta - z * se), _pct(beta + z * se)
        result.warnings.append("安慰剂检验不足，区间按模型标准误计算，可能偏窄")
    if len(t_values):  # the share of placebos at least as far from zero, the real estimate counted
        result.p_value = round((1 + int((np.abs(t_values) >= abs(beta / se)).sum())) / (1 + len(t_values)), 4)
    if len(space):
        result.space_p_value = round((1 + int((np.abs(space) >= abs(beta / se)).sum())) / (1 + len(space)), 4)
    # what the community would have had after the start without it, and the difference, a month
    post = treated_after(panel, treated, start) > 0
    expected_without = float(np.exp(np.log(fitted.fittedvalues[post]) - beta).sum()) / post_weeks * WEEKS_PER_MONTH
    result.expected_per_month = round(expected_without, 2)
    result.effect_per_month = round(expected_without * math.expm1(beta), 2)

    middle = [p for p in placebos if p["kind"] == "time" and p["community"] == treated]
    if middle:
        own = middle[len(middle) // 2]
        others = [p["beta"] / p["se"] for p in placebos if p["community"] != treated and p["se"] > 0]
        if others:
            result.time_placebo_p = round((1 + sum(abs(t) >= abs(own["beta"] / own["se"]) for t in others))
                                          / (1 + len(others)), 4)
            if result.time_placebo_p < 0.05:
                result.warnings.append(f"干预前的假想开始日（{own['start']}）也显示差异（p = {result.time_placebo_p}）："
                                       "对照社区在干预前与本社区走势不一致")
    result.event_study = _event_study(panel, treated, start, settings.event_block_weeks, z, seasons)
    result.synthetic = synthetic_control(panel, treated, start, settings.event_block_weeks, households)
    if result.synthetic.get("missing"):
        result.warnings.append(f"合成对照无法估计：{result.synthetic['missing']}")
    elif result.synthetic["pre_misfit"] > settings.max_pre_misfit:
        result.warnings.append(f"合成对照在干预前拟合不佳（偏差 {result.synthetic['pre_misfit']:.2f}，"
                               f"上限 {settings.max_pre_misfit}）：对照社区组合不出本社区")
    return result


def _normal_quantile(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


def reading(result: Estimate, name: str | None = None) -> str:
    """One paragraph in plain words."""
    who = name or result.treated
    if result.effect_pct is None:
        return f"{who}：无法估计效果。" + "；".join(result.warnings) + "。"
    direction = "减少" if result.effect_pct < 0 else "增加"
    text = (f"{who}干预后诉求估计{direction} {abs(result.effect_pct):.0f}%"
            f"（{100 * result.level:.0f}% 区间 {_bound(result.ci_low_pct)} 至 {_bound(result.ci_high_pct)}），"
            f"约每月{direction} {abs(result.effect_per_month or 0):.1f} 件（无干预时预计每月 {result.expected_per_month} 件）；"
            f"安慰剂检验 p = {result.p_value}（{len(result.donors)} 个对照社区），"
            f"干预前 {result.pre_weeks} 周、干预后 {result.post_weeks} 周。")
    synthetic = result.synthetic.get("effect_pct")
    if synthetic is not None:
        text += f"合成对照估计 {synthetic:+.0f}%（p = {result.synthetic['p_value']}）。"
    covers_zero = ((result.ci_low_pct if result.ci_low_pct is not None else -100.0) <= 0
                   <= (result.ci_high_pct if result.ci_high_pct is not None else math.inf))
    text += "区间包含 0：不能排除没有效果。" if covers_zero else "区间不含 0。"
    if result.warnings:
        text += "注意：" + "；".join(result.warnings) + "。"
    return text


def _bound(pct: float | None) -> str:
    return "无界" if pct is None else f"{pct:+.0f}%"



# --- from the warehouse ------------------------------------------------------------------------------------

PANEL_SQL = """
    select d.community_id, d.received_date, sum(d.reports - d.proactive_reports)::int as complaints
    from marts.fct_daily_complaint_counts d
    where not d.is_cancelled and d.community_id <> 'unresolved'
      and (%(categories)s::text[] is null or d.category_code = any(%(categories)s::text[]))
    group by 1, 2
"""


@dataclass(frozen=True)
class Intervention:
    """A row of reference/interventions.csv (reference.interventions)."""

    intervention_id: str
    name: str
    communities: tuple[str, ...]
    start: dt.date
    end: dt.date | None
    categories: tuple[str, ...]  # empty: every category
    what: str = ""
    dates_invented: bool = False

    @classmethod
    def from_row(cls, row: dict) -> Intervention:
        """A row as the warehouse returns it (dates, a boolean) or as the CSV holds it (text)."""
        def day(value) -> dt.date | None:
            return dt.date.fromisoformat(value) if isinstance(value, str) and value else value or None

        invented = row.get("dates_invented")
        categories = tuple(c.strip() for c in (row["categories"] or "").split(";") if c.strip())
        return cls(row["intervention_id"], row["name"],
                   tuple(c.strip() for c in row["community_ids"].split(";") if c.strip()),
                   day(row["start_date"]), day(row["end_date"]), () if categories == ("all",) else categories,
                   row.get("what") or "", invented == "true" if isinstance(invented, str) else bool(invented))

    def touches(self, other: Intervention, first: dt.date, last: dt.date) -> bool:
        """Whether `other` ran in [first, last] on a category this one looks at (then its communities are
        no fair comparison)."""
        ends = other.end or last
        overlap_time = other.start <= last and ends >= first
        overlap_topic = not self.categories or not other.categories or bool(set(self.categories) & set(other.categories))
        return other.intervention_id != self.intervention_id and overlap_time and overlap_topic


def interventions(conn) -> dict[str, Intervention]:
    cur = conn.execute("select * from reference.interventions order by intervention_id")
    names = [d.name for d in cur.description]
    return {row[0]: Intervention.from_row(dict(zip(names, row))) for row in cur.fetchall()}


def weekly_panel(conn, categories: tuple[str, ...] = ()) -> tuple[pd.DataFrame, dict[str, str], pd.Series]:
    """(residents' complaints per community × complete week, Mondays — proactive finds and cancelled
    complaints left out; the communities' names; their households where the seed knows them)."""
    cur = conn.execute(PANEL_SQL, {"categories": list(categories) or None})
    daily = pd.DataFrame(cur.fetchall(), columns=["community_id", "received_date", "complaints"])
    communities = conn.execute("select community_id, community_name, households from marts.dim_community "
                               "where community_id <> 'unresolved' order by community_id").fetchall()
    names = {c: n for c, n, _ in communities}
    households = pd.Series({c: h for c, _, h in communities}, dtype=float)
    first, last = conn.execute("select min(received_date), max(received_date) from marts.fct_daily_complaint_counts").fetchone()
    if first is None:
        return pd.DataFrame(index=list(names)), names, households
    monday = first + dt.timedelta(days=(7 - first.weekday()) % 7)  # the first complete week
    end = last - dt.timedelta(days=(last.weekday() + 1) % 7)         # the last Sunday on record
    weeks = pd.date_range(monday, end, freq="7D")
    daily["week"] = pd.to_datetime(daily["received_date"]) - pd.to_timedelta(
        pd.to_datetime(daily["received_date"]).dt.day_of_week, unit="D")
    panel = (daily.groupby(["community_id", "week"])["complaints"].sum().unstack(fill_value=0)
             .reindex(index=list(names), columns=weeks, fill_value=0))
    panel.columns = pd.DatetimeIndex(weeks)  # also when no week is complete yet (an empty panel)
    return panel.astype(int), names, households


def estimate_intervention(conn, intervention: Intervention, settings: Settings | None = None,
                          panel: tuple | None = None) -> Estimate:
    """The estimate of an intervention, communities by name; the communities of other interventions of the
    seed that touched its categories within the weeks on record are left out of the comparison. `panel`:
    weekly_panel of its categories, when the caller has it."""
    panel, names, households = panel or weekly_panel(conn, intervention.categories)
    # compared with its own street's other communities: in a district's warehouse, another street's are
    # run by another street center (README: Streets)
    streets = conn.execute("""select community_id from marts.dim_community where street_id in (
                                  select street_id from marts.dim_community where community_id = any(%s))""",
                           (list(intervention.communities),)).fetchall()
    panel = panel.loc[panel.index.isin({c for (c,) in streets})]
    first = panel.columns.min().date() if len(panel.columns) else intervention.start
    last = panel.columns.max().date() if len(panel.columns) else intervention.start
    left_out = {}
    for other in interventions(conn).values():
        if intervention.touches(other, first, last):
            for community in other.communities:
                if community not in intervention.communities:
                    left_out[names.get(community, community)] = f"{other.name}（{other.intervention_id}）也作用于此"
    return estimate(panel.rename(index=names), [names.get(c, c) for c in intervention.communities], intervention.start,
                    intervention.end, households.rename(index=names), settings, left_out)


def ad_hoc(conn, community: str, start: dt.date, categories: tuple[str, ...] = (), end: dt.date | None = None) -> Intervention:
    """An intervention an analyst names on the command line: the community by id or name (望园社区 or 望园)."""
    rows = conn.execute("select community_id, community_name from marts.dim_community where community_id <> 'unresolved'").fetchall()
    found = [cid for cid, name in rows if community in (cid, name) or name.removesuffix("社区") == community]
    if len(found) != 1:
        raise ValueError(f"{community}: not one community of dim_community (ids and names: "
                         f"{', '.join(f'{cid} {name}' for cid, name in rows)})")
    return Intervention("ad_hoc", f"{community} {start.isoformat()}", (found[0],), start, end, tuple(categories))


def category_names(conn) -> dict[str, str]:
    return dict(conn.execute("select category_code, category_name_zh from marts.dim_issue_category").fetchall())


def result_dict(intervention: Intervention, result: Estimate, names: dict[str, str] | None = None) -> dict:
    """The estimate with what it is about and its reading: `minqing effect --json`. `names`: the categories'
    Chinese names (category_names)."""
    out = result.as_dict()
    categories = list(intervention.categories) or ["all"]
    out.update({"intervention_id": intervention.intervention_id, "intervention": intervention.name,
                "community_ids": list(intervention.communities), "categories": categories,
                "category_names": ["全部类别"] if categories == ["all"] else [(names or {}).get(c, c) for c in categories],
                "dates_invented": intervention.dates_invented})
    out["reading"] = reading(result, "、".join(result.communities) + f"「{intervention.name}」")
    return out
