"""The district's page (`minqing district-page`, issue 23): the month's ranking of its streets in the briefing's
style, one self-contained Chinese HTML file — no script, no font fetched:

- the ranking table: rank, class, the three rates and the composite, the change since last month, the
  orders behind them (marts.mart_street_ranking, reproduced from its own figures by a dbt test);
- each street's trend: its composite and rank month by month, drawn as a small inline SVG line;
- the streets that fell into 整改类 or 治理类, with the categories that pulled them down: the ranked channels'
  orders of the month by category, the unresolved and dissatisfied ones (marts.fct_daily_complaint_counts,
  the counts mart_three_rates sums), against the district's rates in the same category.

Everything shown comes from the marts; a month with fewer streets ranked than the class rules need says so.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from minqing import warehouse
from minqing.publishing import pages

LOW_CLASSES = ("governance", "rectification")  # 治理类, 整改类 (seeds/ranking_classes.csv)
CATEGORIES_SHOWN = 3
SPARK_W, SPARK_H = 160, 36

RANKING_SQL = """
    select month_start, is_complete_month, street_id, street_name, district_name, names_invented, street_rank,
           streets_ranked, rank_class, rank_class_zh, previous_rank, places_gained, composite_score,
           composite_change, response_rate, resolution_rate, satisfaction_rate, received_orders, resolved_orders,
           resolution_visited_orders, satisfaction_visited_orders, classes_given
    from marts.mart_street_ranking
"""

# the month's ranked orders by street and category: what was left unresolved or dissatisfied
CATEGORY_SQL = """
    select d.street_id, d.category_code, c.category_name_zh,
           sum(d.resolution_visited_reports)::int as visited, sum(d.resolved_reports)::int as resolved,
           sum(d.satisfaction_visited_reports)::int as asked, sum(d.dissatisfied_reports)::int as dissatisfied
    from marts.fct_daily_complaint_counts d
    join marts.dim_issue_category c using (category_code)
    where not d.is_cancelled
      and d.source_channel in (select source_channel from reference.ranked_channels)
      and d.received_date >= %(month)s and d.received_date < (%(month)s::date + interval '1 month')
    group by 1, 2, 3
"""


def _rows(conn, query: str, params: dict | None = None) -> list[dict]:
    cur = conn.execute(query, params or {})
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def pulled_down(categories: list[dict], street_id: str) -> list[dict]:
    """The street's categories by orders lost (unresolved or dissatisfied) in the month, most first, each with
    its rates and the district's in the same category."""
    district: dict[str, dict] = {}
    for row in categories:
        total = district.setdefault(row["category_code"], {"visited": 0, "resolved": 0, "asked": 0, "dissatisfied": 0})
        for key in total:
            total[key] += row[key]
    mine = []
    for row in categories:
        if row["street_id"] != street_id:
            continue
        lost = (row["visited"] - row["resolved"]) + row["dissatisfied"]
        if lost <= 0:
            continue
        whole = district[row["category_code"]]
        mine.append({**row, "lost": lost, "unresolved": row["visited"] - row["resolved"],
                     "resolution_rate": _share(row["resolved"], row["visited"]),
                     "district_resolution_rate": _share(whole["resolved"], whole["visited"]),
                     "dissatisfied_share": _share(row["dissatisfied"], row["asked"]),
                     "district_dissatisfied_share": _share(whole["dissatisfied"], whole["asked"])})
    return sorted(mine, key=lambda r: (-r["lost"], r["category_code"]))[:CATEGORIES_SHOWN]


def spark(points: list[tuple[dt.date, float | None]]) -> dict:
    """A small line of a street's composite score month by month (0..1 scaled to the street's own range)."""
    values = [v for _, v in points if v is not None]
    if not values:
        return {}
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (SPARK_W - 8) / max(1, len(points) - 1)
    coords = [(4 + i * step, SPARK_H - 4 - (v - low) / span * (SPARK_H - 8)) for i, (_, v) in enumerate(points)
              if v is not None]
    return {"width": SPARK_W, "height": SPARK_H, "line": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
            "last": {"x": round(coords[-1][0], 1), "y": round(coords[-1][1], 1)}}


def page_data(conn, month: dt.date | None = None) -> dict:
    """What the page shows for `month` (its first day; default the newest month ranked)."""
    ranking = _rows(conn, RANKING_SQL + " order by month_start, street_rank nulls last, street_id")
    if not ranking:
        return {"month": None, "rows": [], "trends": [], "low": []}
    months = sorted({r["month_start"] for r in ranking})
    month = month.replace(day=1) if month else months[-1]
    if month not in months:
        raise ValueError(f"{month:%Y-%m}: no ranking for that month (ranked: {', '.join(f'{m:%Y-%m}' for m in months)})")
    rows = [r for r in ranking if r["month_start"] == month]
    shown = [m for m in months if m <= month][-12:]
    trends = []
    for row in rows:
        history = {r["month_start"]: r for r in ranking if r["street_id"] == row["street_id"]}
        points = [(m, float(history[m]["composite_score"]) if m in history and history[m]["composite_score"] is not None
                   else None) for m in shown]
        trends.append({"street_name": row["street_name"], "spark": spark(points),
                       "months": [{"month": f"{m:%Y-%m}", "rank": history[m]["street_rank"] if m in history else None,
                                   "composite": points[i][1]} for i, m in enumerate(shown)]})
    categories = _rows(conn, CATEGORY_SQL, {"month": month})
    low = [{"street": row, "categories": pulled_down(categories, row["street_id"])}
           for row in rows if row["rank_class"] in LOW_CLASSES]
    first = rows[0]
    return {"month": month, "is_complete": first["is_complete_month"], "district": first["district_name"],
            "streets_ranked": first["streets_ranked"], "classes_given": first["classes_given"],
            "invented": any(r["names_invented"] for r in rows), "rows": rows, "trends": trends, "low": low}


def _pct(value) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


def render(data: dict) -> str:
    env = pages.environment()
    env.filters["pct"] = _pct
    return env.get_template("district.html.j2").render(d=data)


def write(out: Path, month: dt.date | None = None, conn=None) -> Path:
    """Write the page for `month` into the folder `out`: district_ranking_<YYYY-MM>.html."""
    if conn is None:
        with warehouse.connect() as own:
            return write(out, month, own)
    data = page_data(conn, month)
    if data["month"] is None:
        raise ValueError("no street is ranked yet (marts.mart_street_ranking is empty): run the pipeline first")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"district_ranking_{data['month']:%Y-%m}.html"
    path.write_text(render(data), encoding="utf-8")
    return path
