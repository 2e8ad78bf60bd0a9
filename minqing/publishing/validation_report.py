"""The validation report (数据校验报告, issue 22): every stored Great Expectations validation as one
self-contained Chinese page, from ops.validation_runs and ops.validation_results — no script, no style sheet
and nothing else fetched, so it opens on a network without internet (GX's own Data Docs load jQuery,
Bootstrap and Vega from public CDNs).

Per suite, its newest run and how many of its runs failed; then the newest runs (time, suite, what was
checked, expectations met, rows checked and quarantined), each with its expectations in a <details>: type,
column, arguments, met or not, unexpected count and share, observed value. Failed runs come open.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from minqing import config, warehouse
from minqing.publishing import pages

FILE_NAME = "validation_report.html"
NEWEST_RUNS = 200

RUNS_SQL = """
    select run_id, run_name, suite_name, target, batch, success, evaluated, successful, rows_checked,
           rows_quarantined, started_at, finished_at
    from ops.validation_runs order by finished_at desc, run_id desc limit %s
"""
SUITES_SQL = """
    select suite_name, count(*) as runs, count(*) filter (where not success) as failed, max(finished_at) as newest,
           (array_agg(success order by finished_at desc, run_id desc))[1] as newest_success
    from ops.validation_runs group by suite_name order by suite_name
"""
RESULTS_SQL = """
    select run_id, expectation_type, column_name, kwargs, success, element_count, unexpected_count,
           unexpected_percent, observed_value
    from ops.validation_results where run_id = any(%s) order by run_id, success, expectation_type, column_name
"""


def _rows(cur) -> list[dict]:
    names = [d.name for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def _short(value, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def load(conn, newest: int = NEWEST_RUNS) -> dict:
    runs = _rows(conn.execute(RUNS_SQL, (newest,)))
    suites = _rows(conn.execute(SUITES_SQL))
    results: dict[int, list[dict]] = {}
    for row in _rows(conn.execute(RESULTS_SQL, ([r["run_id"] for r in runs],))):
        kwargs = {k: v for k, v in (row["kwargs"] or {}).items() if k not in ("column", "batch_id")}
        row["arguments"] = _short(kwargs) if kwargs else ""
        row["observed"] = "" if row["observed_value"] is None else _short(row["observed_value"])
        results.setdefault(row["run_id"], []).append(row)
    for run in runs:
        run["results"] = results.get(run["run_id"], [])
        batch = dict(run["batch"] or {})
        run["error"] = batch.pop("error", None)  # a validation that could not run says why
        batch.pop("gx_run", None)  # the run's name and time, already in the row
        run["batch_text"] = _short(batch, 120)
    total = conn.execute("select count(*) from ops.validation_runs").fetchone()[0]
    return {"runs": runs, "suites": suites, "total_runs": total, "shown": len(runs),
            "written_at": dt.datetime.now(config.BEIJING)}


def render(report: dict) -> str:
    env = pages.environment()
    env.filters["moment"] = lambda v: "" if v is None else v.astimezone(config.BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    return env.get_template("validation.html.j2").render(r=report)


def write(out_dir: Path | None = None) -> Path:
    """Write validation_report.html into `out_dir` (default $MINQING_HOME/quality); returns its path."""
    out_dir = Path(out_dir) if out_dir else config.home() / "quality"
    with warehouse.connect() as conn:
        report = load(conn)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    path.write_text(render(report), encoding="utf-8")
    return path
