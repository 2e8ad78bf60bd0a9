"""The effects stage of the daily run (issue 20): every intervention of the seed (reference.interventions)
estimated against the street's other communities (minqing/analytics/effects.py) and written to
ops.intervention_effects (migration 0019), which dbt publishes as marts.mart_intervention_effects.

Per intervention, one estimate of the categories it targets together (category_code 'all', the one
`minqing effect --intervention` prints) and, when it targets several, one per category; each gives a row
per method (the Poisson difference-in-differences and the synthetic control).

The stage runs after the first half of the build (it reads fct_daily_complaint_counts, dim_community and the
seed) and re-estimates only what changed: an estimate's inputs (its weekly panel, the intervention's row, the
settings and ESTIMATE_VERSION) are fingerprinted, and rows whose fingerprint still holds are kept. The panel
holds complete weeks only, so within a week nothing is re-estimated unless late records change a past week.
An estimate that fails is written as a row without an effect and the failure in its warnings: one
intervention never stops the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging

from minqing import warehouse
from minqing.analytics import effects

log = logging.getLogger(__name__)

# Raised when the estimate's method changes, so that every intervention is estimated again.
ESTIMATE_VERSION = "2026-12-seasons"
ALL = "all"

COLUMNS = ("intervention_id", "category_code", "method", "community_ids", "start_date", "end_date", "first_week",
           "last_week", "pre_weeks", "post_weeks", "effect_pct", "ci_low_pct", "ci_high_pct", "level", "p_value",
           "effect_per_month", "expected_per_month", "time_placebo_p", "pre_misfit", "placebo_count", "donor_ids",
           "donor_weights", "rates", "warnings", "reading", "inputs_fingerprint")
INSERT_SQL = (f"insert into ops.intervention_effects ({', '.join(COLUMNS)}) "
              f"values ({', '.join(['%s'] * len(COLUMNS))})")


def scopes(intervention: effects.Intervention) -> list[tuple[str, tuple[str, ...]]]:
    """(category_code, the categories estimated together): 'all' first, then each targeted category when
    there are several."""
    out = [(ALL, intervention.categories)]
    if len(intervention.categories) > 1:
        out += [(code, (code,)) for code in intervention.categories]
    return out


def fingerprint(panel, intervention: effects.Intervention, settings: effects.Settings) -> str:
    digest = hashlib.sha256(ESTIMATE_VERSION.encode())
    digest.update(repr(dataclasses.astuple(intervention)).encode())
    digest.update(repr(dataclasses.astuple(settings)).encode())
    digest.update(panel.to_csv().encode())
    return digest.hexdigest()


def rows(intervention: effects.Intervention, category_code: str, out: dict, ids: dict[str, str],
         first_week, last_week, fingerprint_: str) -> list[tuple]:
    """The two rows (poisson_did, synthetic_control) of one estimate (`effects.result_dict`); `ids`: community
    names back to ids."""
    synthetic = out.get("synthetic") or {}
    donors = [ids.get(name, name) for name in out["donors"]]
    placebos = len(out.get("placebos") or [])
    common = {"intervention_id": intervention.intervention_id, "category_code": category_code,
              "community_ids": list(intervention.communities), "start_date": intervention.start,
              "end_date": intervention.end, "first_week": first_week, "last_week": last_week,
              "pre_weeks": out["pre_weeks"], "post_weeks": out["post_weeks"], "level": out["level"],
              "donor_ids": donors, "warnings": out["warnings"], "reading": out["reading"],
              "inputs_fingerprint": fingerprint_}
    did = {**common, "method": "poisson_did", "effect_pct": out["effect_pct"], "ci_low_pct": out["ci_low_pct"],
           "ci_high_pct": out["ci_high_pct"], "p_value": out["p_value"], "effect_per_month": out["effect_per_month"],
           "expected_per_month": out["expected_per_month"], "time_placebo_p": out["time_placebo_p"],
           "placebo_count": placebos}
    weights = synthetic.get("weights")
    sc = {**common, "method": "synthetic_control", "effect_pct": synthetic.get("effect_pct"),
          "p_value": synthetic.get("p_value"), "pre_misfit": synthetic.get("pre_misfit"),
          "placebo_count": len(donors) if synthetic.get("p_value") is not None else None,
          "donor_weights": None if weights is None else json.dumps({ids.get(k, k): v for k, v in weights.items()}),
          "rates": synthetic.get("rates")}
    return [tuple(row.get(column) for column in COLUMNS) for row in (did, sc)]


def estimate_all(conn, settings: effects.Settings | None = None) -> dict:
    """Estimate what changed and write it (the caller commits). Returns counts."""
    settings = settings or effects.Settings.load()
    seed = effects.interventions(conn)
    category_names = effects.category_names(conn)
    kept = dict(conn.execute("select intervention_id || '/' || category_code, inputs_fingerprint "
                             "from ops.intervention_effects where method = 'poisson_did'").fetchall())
    gone = conn.execute("delete from ops.intervention_effects where not (intervention_id = any(%s))",
                        (list(seed),)).rowcount
    counts = {"interventions": len(seed), "estimated": 0, "unchanged": 0, "failed": 0, "removed": gone}
    for intervention in seed.values():
        valid_scopes = [code for code, _ in scopes(intervention)]
        conn.execute("delete from ops.intervention_effects where intervention_id = %s and not (category_code = any(%s))",
                     (intervention.intervention_id, valid_scopes))
        for code, categories in scopes(intervention):
            scoped = dataclasses.replace(intervention, categories=categories)
            loaded = effects.weekly_panel(conn, categories)
            panel, names, _ = loaded
            stamp = fingerprint(panel, scoped, settings)
            if kept.get(f"{intervention.intervention_id}/{code}") == stamp:
                counts["unchanged"] += 1
                continue
            first = panel.columns.min().date() if len(panel.columns) else None
            last = panel.columns.max().date() if len(panel.columns) else None
            try:
                out = effects.result_dict(scoped, effects.estimate_intervention(conn, scoped, settings, loaded), category_names)
            except Exception as exc:  # noqa: BLE001 — one intervention's failure is its row's warning, not the run's
                log.exception("effect of %s (%s) failed", intervention.intervention_id, code)
                counts["failed"] += 1
                out = {"pre_weeks": 0, "post_weeks": 0, "level": settings.level, "donors": [], "effect_pct": None,
                       "ci_low_pct": None, "ci_high_pct": None, "p_value": None, "effect_per_month": None,
                       "expected_per_month": None, "time_placebo_p": None, "synthetic": {},
                       "warnings": [f"估计失败：{type(exc).__name__}: {exc}"[:500]], "reading": None}
            conn.execute("delete from ops.intervention_effects where intervention_id = %s and category_code = %s",
                         (intervention.intervention_id, code))
            ids = {name: cid for cid, name in names.items()}
            with conn.cursor() as cur:
                cur.executemany(INSERT_SQL, rows(scoped, code, out, ids, first, last, stamp))
            counts["estimated"] += 1
    return counts


def effects_step() -> dict:
    """The pipeline stage: after the first half of the build, before the second (dbt_project/selectors.yml)."""
    warehouse.migrate()
    with warehouse.connect() as conn:
        counts = estimate_all(conn)
        conn.commit()
    log.info("intervention effects: %s", counts)
    return counts
