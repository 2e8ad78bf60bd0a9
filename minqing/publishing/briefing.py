"""The daily dispatch briefing (每日调度简报): marts.rpt_dispatch_briefing rendered as one self-contained
HTML page in Chinese (inline SVG charts and CSS, no script or font from elsewhere, a print layout),
CSV files of its tables, and a PDF where a Chromium is installed.

Every figure on the page is a row of the mart, written as the mart holds it: the page formats numbers
(a count, a percentage, hours as days) and draws them, and computes none. Each shown figure carries
its row's key and raw value (`data-key`, `data-value`), so a test can hold the page against the
warehouse.

Whose briefing (issue 23): the mart holds, each day, the district's rows (street_id null: every street of
the warehouse together — a street's own install's one street —, and every day archived before the column)
and each street's (its own meeting). `load(day)` and `write(day, out)` are the district's, as they always
were; `street_id=` a street's, written into a folder of its own, `<out>/<street_id>/`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment

from minqing import config, warehouse
from minqing.publishing import pages
from minqing.publishing.exports import to_csv

MART = "marts.rpt_dispatch_briefing"
WEEKDAYS = "一二三四五六日"

# Channel colours of the charts (presentation only).
CHANNEL_COLOURS = {"hotline_12345": "#c0392b", "hotline_400": "#e67e22", "miniprogram": "#2980b9",
                   "reception": "#27ae60"}
GRADE_COLOURS = {"red": "#c0392b", "orange": "#e67e22", "yellow": "#d4ac0d", "green": "#27ae60"}

# The downloadable tables: section -> (file stem, columns as (header, row field)).
TABLES = {
    "overdue_order": ("超期未办结工单", [("工单编号", "source_record_id"), ("渠道", "source_channel_zh"),
                                    ("社区", "community_name"), ("类别", "category_name_zh"),
                                    ("承办单位", "handling_unit"), ("超期小时数", "value"), ("说明", "detail_zh")]),
    "returned_order": ("昨日退单", [("工单编号", "source_record_id"), ("渠道", "source_channel_zh"),
                                 ("社区", "community_name"), ("类别", "category_name_zh"),
                                 ("承办单位", "handling_unit"), ("说明", "detail_zh")]),
    "repeat_problem": ("一题多件", [("问题编号", "problem_id"), ("社区", "community_name"),
                                  ("类别", "category_name_zh"), ("承办单位", "handling_unit"),
                                  ("累计件数", "value"), ("昨日件数", "previous_value"),
                                  ("首报工单编号", "source_record_id"), ("首报渠道", "source_channel_zh"),
                                  ("说明", "detail_zh")]),
    "sentiment_rise": ("民情码升级社区", [("社区", "community_name"), ("本周民情码", "grade_zh"),
                                     ("上周民情码", "previous_grade_zh"), ("理由", "detail_zh")]),
    "early_warning": ("今日预警", [("社区", "community_name"), ("类别", "category_name_zh"),
                                ("预计诉求量", "value"), ("基线", "previous_value"),
                                ("承办单位", "handling_unit"), ("理由与建议", "detail_zh")]),
    "received_by_community": ("昨日受理_按社区", [("社区", "community_name"), ("昨日", "value"),
                                           ("前日", "previous_value")]),
    "received_by_category": ("昨日受理_按类别", [("类别", "category_name_zh"), ("承办单位", "handling_unit"),
                                          ("昨日", "value"), ("前日", "previous_value")]),
}


class BriefingNotFound(LookupError):
    pass


def row_key(row: dict) -> str:
    """The identity of a briefing row within its day and section (the mart's unique key)."""
    parts = [row.get("item_rank"), row.get("series_date"), row.get("source_channel"), row.get("community_id"),
             row.get("category_code")]
    return "|".join("" if p is None else str(p) for p in parts)


@dataclass
class Briefing:
    briefing_date: dt.date
    data_date: dt.date
    as_of_at: dt.datetime | None
    rows: list[dict]
    titles: dict[str, str] = field(default_factory=dict)
    by_section: dict[str, list[dict]] = field(default_factory=dict)
    streets: list[str] = field(default_factory=list)  # the streets the warehouse serves (its figures sum them)
    street_id: str | None = None  # a street's own briefing; None: the district's
    street_name: str | None = None

    def __post_init__(self):
        grouped = defaultdict(list)
        for row in self.rows:
            grouped[row["section"]].append(row)
        for rows in grouped.values():
            rows.sort(key=lambda r: (r["item_rank"], str(r.get("series_date") or ""), r.get("source_channel") or ""))
        self.by_section = dict(grouped)

    def section(self, name: str) -> list[dict]:
        return self.by_section.get(name, [])

    def section_title(self, name: str) -> str:
        rows = self.section(name)
        return rows[0]["section_zh"] if rows else self.titles.get(name, name)


def _has_streets(conn) -> bool:
    """Whether the mart has street_id (a warehouse not built since issue 23's per-street briefings has not)."""
    return conn.execute("""select 1 from information_schema.columns where table_schema = 'marts'
                           and table_name = 'rpt_dispatch_briefing' and column_name = 'street_id'""").fetchone() is not None


def _scope(conn, street_id: str | None) -> tuple[str, tuple]:
    """The rows of the district's briefing (street_id null) or of one street's, as a where clause; a mart
    built before the column holds the district's rows only."""
    if not _has_streets(conn):
        return ("true", ()) if street_id is None else ("false", ())
    return ("street_id is null", ()) if street_id is None else ("street_id = %s", (street_id,))


def _dates(conn, where: str, params: tuple) -> list[dt.date]:
    return [r[0] for r in conn.execute(f"select distinct briefing_date from {MART} where {where} order by 1", params)]


def available_dates(conn, street_id: str | None = None) -> list[dt.date]:
    """The meeting days held: the district's (every published day), or those with a street's own rows."""
    return _dates(conn, *_scope(conn, street_id))


def streets_of(conn, briefing_date: dt.date) -> list[str]:
    """The streets with a briefing of their own on a meeting day (none on a day published before issue 23's)."""
    if not _has_streets(conn):
        return []
    return [r[0] for r in conn.execute(f"select distinct street_id from {MART} where briefing_date = %s "
                                       "and street_id is not null order by 1", (briefing_date,))]


def load(briefing_date: dt.date | None = None, street_id: str | None = None) -> Briefing:
    """The briefing of a meeting day (default: the newest in the mart): the district's (street_id None) or
    a street's own."""
    with warehouse.connect() as conn:
        exists = conn.execute("select to_regclass(%s)", (MART,)).fetchone()[0]
        if not exists:
            raise BriefingNotFound(f"{MART} does not exist yet: run the pipeline first (`minqing run` or the DAG)")
        street_names = dict(conn.execute(
            "select street_id, street_name from marts.dim_street where street_id <> 'unresolved' order by street_id"))
        if street_id is not None and street_id not in street_names:
            raise BriefingNotFound(f"no street {street_id!r} in marts.dim_street; its streets: "
                                   f"{', '.join(street_names) or 'none'}")
        whose = "" if street_id is None else f" of street {street_id}"
        where, params = _scope(conn, street_id)
        dates = _dates(conn, where, params)
        if not dates:
            raise BriefingNotFound(f"{MART} holds no briefing{whose}: run the pipeline first")
        day = briefing_date or dates[-1]
        if day not in dates:
            shown = ", ".join(d.isoformat() for d in dates[-10:])
            raise BriefingNotFound(f"no briefing{whose} for {day} in {MART}; briefings held: {shown}"
                                   f"{' (and earlier)' if len(dates) > 10 else ''}. A briefing for a day is "
                                   f"made by the run of that morning (data of the day before)"
                                   + (", a street's since the mart has street_id." if street_id else "."))
        cursor = conn.execute(f"select * from {MART} where briefing_date = %s and {where}", (day, *params))
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        titles = dict(conn.execute("select code, label_zh from reference.briefing_labels where kind = 'section'").fetchall())
    first = rows[0]
    return Briefing(day, first["data_date"], first["as_of_at"], rows, titles, streets=list(street_names.values()),
                    street_id=street_id, street_name=street_names.get(street_id))


# -- formatting (presentation only) -------------------------------------------------------------

def fmt_count(value) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_rate(value) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.1f}%"


def fmt_number(value, decimals: int = 1) -> str:
    return "—" if value is None else f"{Decimal(value):.{decimals}f}"


def fmt_hours(value) -> str:
    if value is None:
        return "—"
    hours = Decimal(value)
    return f"{hours / 24:.1f}天" if hours >= 48 else f"{hours:.1f}小时"


def fmt_metric(metric: str, value) -> str:
    if metric.endswith("_rate") or metric.endswith("_share") or metric == "composite_score":
        return fmt_rate(value)
    if metric == "overdue_hours":
        return fmt_hours(value)
    if metric == "expected_volume":
        return fmt_number(value)
    return fmt_count(value)


def fmt_moment(value: dt.datetime | None) -> str:
    """An as-of moment in Beijing time; the end of a day reads as its 24:00, not the next day's 00:00."""
    if value is None:
        return "—"
    local = value.astimezone(config.BEIJING)
    if local.time() == dt.time(0):
        return f"{local.date() - dt.timedelta(days=1)} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def raw(value) -> str:
    """A figure as the mart holds it, for data-value attributes."""
    return "" if value is None else str(value)


# -- charts (inline SVG) ------------------------------------------------------------------------

def _axis(maximum: float) -> tuple[float, list[float]]:
    """A round top and 3–5 round ticks for a value axis starting at 0."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000,
                 100000, 200000, 500000, 1000000):
        if maximum <= step * 5:
            top = max(step, -(-maximum // step) * step)
            return top, [step * k for k in range(int(top // step) + 1)]
    return maximum, [0, maximum]


def volume_chart(rows: list[dict]) -> dict:
    """Stacked bars: demands per day, one colour per channel."""
    days = sorted({r["series_date"] for r in rows})
    channels = []
    for r in sorted(rows, key=lambda r: r["item_rank"]):
        if r["source_channel"] not in [c["code"] for c in channels]:
            channels.append({"code": r["source_channel"], "label": r["source_channel_zh"],
                             "colour": CHANNEL_COLOURS.get(r["source_channel"], "#7f8c8d")})
    by_day = defaultdict(dict)
    for r in rows:
        by_day[r["series_date"]][r["source_channel"]] = r
    totals = {d: sum(float(r["value"] or 0) for r in by_day[d].values()) for d in days}
    top, tick_values = _axis(max(totals.values(), default=0))
    width, height, left, bottom, top_pad = 760, 260, 40, 36, 12
    plot_h = height - bottom - top_pad
    step = (width - left - 10) / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        y = height - bottom
        for channel in channels:
            row = by_day[day].get(channel["code"])
            if row is None:
                continue
            value = float(row["value"] or 0)
            h = plot_h * value / top if top else 0
            y -= h
            bars.append({"x": left + i * step + step * 0.15, "y": y, "w": step * 0.7, "h": h,
                         "colour": channel["colour"], "row": row,
                         "title": f"{day:%m-%d} {channel['label']} "
                                  + ("数据未到" if row["value"] is None else f"{fmt_count(row['value'])}件"
                                     + ("（不完整）" if row.get("is_incomplete") else ""))})
    ticks = [{"y": height - bottom - plot_h * t / top, "label": fmt_count(t)} for t in tick_values]
    labels = [{"x": left + i * step + step / 2, "label": f"{day:%m-%d}"}
              for i, day in enumerate(days) if i % 5 == 0 or i == len(days) - 1]
    return {"width": width, "height": height, "left": left, "bottom": height - bottom, "bars": bars,
            "ticks": ticks, "labels": labels, "channels": channels}


def heatmap(rows: list[dict]) -> dict:
    communities = sorted({(r["item_rank"], r["community_id"], r["community_name"]) for r in rows})
    categories = sorted({(r["category_code"], r["category_name_zh"]) for r in rows})
    cells = {(r["community_id"], r["category_code"]): r for r in rows}
    top = max((float(r["value"] or 0) for r in rows), default=0) or 1.0
    table = []
    for _, community_id, name in communities:
        line = []
        for code, _ in categories:
            row = cells.get((community_id, code))
            share = float(row["value"] or 0) / top if row else 0.0
            line.append({"row": row, "alpha": round(0.08 + 0.85 * share, 3) if share else 0,
                         "dark": share > 0.55})
        table.append({"name": name or community_id, "cells": line})
    return {"categories": [name or code for code, name in categories], "rows": table}


def rates_chart(rows: list[dict]) -> dict:
    width, row_h, left = 380, 54, 104
    bars = []
    for i, r in enumerate(rows):
        y = 10 + i * row_h
        for j, (value, label, colour) in enumerate(((r["value"], "本月", "#2c3e50"),
                                                    (r["previous_value"], "上月", "#95a5a6"))):
            w = (width - left - 56) * float(value or 0)
            bars.append({"x": left, "y": y + j * 20, "w": w, "colour": colour, "label": label, "value": value,
                         "text": fmt_rate(value), "row": r, "is_previous": j == 1})
    return {"width": width, "height": 10 + len(rows) * row_h, "left": left,
            "metrics": [{"y": 10 + i * row_h + 16, "label": r["metric_zh"]} for i, r in enumerate(rows)],
            "bars": bars}


# -- the page -----------------------------------------------------------------------------------

def _environment() -> Environment:
    env = pages.environment()
    env.filters.update(count=fmt_count, rate=fmt_rate, hours=fmt_hours, number=fmt_number, raw=raw,
                       key=row_key, moment=fmt_moment)
    env.globals.update(fmt_metric=fmt_metric, GRADE_COLOURS=GRADE_COLOURS)
    return env


def table_csv(briefing: Briefing, section: str) -> tuple[str, str]:
    stem, columns = TABLES[section]
    rows = [[r.get(name) for _, name in columns] for r in briefing.section(section)]
    return f"{briefing.briefing_date:%Y%m%d}_{stem}.csv", to_csv([h for h, _ in columns], rows)


def render_html(briefing: Briefing) -> str:
    downloads = []
    for section in TABLES:
        name, text = table_csv(briefing, section)
        downloads.append({"section": section, "name": name, "title": briefing.section_title(section),
                          "rows": len(briefing.section(section)),
                          "href": "data:text/csv;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()})
    summary = {r["metric"]: r for r in briefing.section("summary")}
    return _environment().get_template("briefing.html.j2").render(
        b=briefing, weekday=WEEKDAYS[briefing.briefing_date.weekday()], summary=summary,
        volume=volume_chart(briefing.section("volume_trend")),
        heat=heatmap(briefing.section("category_heatmap")),
        rates=rates_chart(briefing.section("three_rates")),
        downloads=downloads, generated_at=dt.datetime.now(config.BEIJING))


def chromium_executable() -> str | None:
    """A Chromium for PDFs: MINQING_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH."""
    explicit = config.env("MINQING_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]


@contextlib.contextmanager
def pdf_printer(chromium: str | None = None) -> Iterator[Callable[[Path, Path], Path] | None]:
    """One headless Chromium (driven by Playwright) that prints page after page to PDF, in each page's print
    layout (A4): yields print(html_path, pdf_path) -> pdf_path, or None when there is no Chromium
    (chromium_executable). A district's briefing and each of its streets' share the browser: it starts
    once, not once a street (about a second and a half each, issue 23)."""
    chromium = chromium or chromium_executable()
    if not chromium:
        yield None
        return
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        except PlaywrightError as error:
            raise RuntimeError(f"chromium ({chromium}) could not start: {error}") from error
        page = browser.new_page()

        def print_page(html_path: Path, pdf_path: Path) -> Path:
            try:
                page.goto(html_path.resolve().as_uri(), wait_until="load")
                page.pdf(path=pdf_path, prefer_css_page_size=True, print_background=True)
            except PlaywrightError as error:
                raise RuntimeError(f"chromium could not print {html_path} to PDF: {error}") from error
            return pdf_path

        try:
            yield print_page
        finally:
            browser.close()


def write(briefing_date: dt.date | None, out_dir: Path, pdf: bool | None = None, street_id: str | None = None,
          validation: bool = True, printer: Callable[[Path, Path], Path] | None = None) -> dict[str, Path | None]:
    """Write briefing_<date>.html, its tables as CSV, and (pdf True, or None with a Chromium) a PDF: the
    district's into `out_dir`, a street's (street_id) into `out_dir/<street_id>/`. The validation report
    goes into `out_dir` (not again with validation=False), which the page's footer links. `printer`: a
    pdf_printer's, shared by several briefings; without it the PDF gets a browser of its own."""
    briefing = load(briefing_date, street_id)
    top = out_dir
    out_dir = top if street_id is None else top / street_id
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / f"briefing_{briefing.briefing_date.isoformat()}.html"
    html_path.write_text(render_html(briefing), encoding="utf-8")
    written: dict[str, Path | None] = {"html": html_path}
    for section in TABLES:
        name, text = table_csv(briefing, section)
        (out_dir / name).write_text(text, encoding="utf-8")
    written["csv"] = out_dir
    from minqing.publishing import validation_report

    # the footer links it: the same folder, or the one above a street's
    written["validation"] = validation_report.write(top) if validation else top / validation_report.FILE_NAME
    written["pdf"] = None
    if pdf is not False:
        with contextlib.nullcontext(printer) if printer else pdf_printer() as printing:
            if pdf and printing is None:
                raise RuntimeError("--pdf needs a Chromium (Debian: apt-get install chromium; or set MINQING_CHROMIUM)")
            written["pdf"] = printing(html_path, html_path.with_suffix(".pdf")) if printing else None
    return written
