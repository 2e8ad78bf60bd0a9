"""The daily dispatch briefing: the mart's figures against the facts, the page in a real headless
Chromium (no console errors, nothing fetched from elsewhere, every figure shown equal to the
warehouse's), the PDF, the CSV tables' formula neutralisation and the CLI's errors.

The screenshot of the rendered page is kept under test-artifacts/ (or MINQING_TEST_ARTIFACTS)."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from minqing import cli
from minqing.publishing import briefing
from minqing.publishing.exports import neutralise, to_csv
from minqing.devtools.generate import generate

from conftest import migrated_database

ARTIFACTS = Path(os.environ.get("MINQING_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
START, DAYS = dt.date(2026, 6, 20), 40
DATA_DATE = START + dt.timedelta(days=DAYS - 1)
BRIEFING_DATE = DATA_DATE + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def built(server_url, tmp_path_factory):
    """One warehouse with 40 generated days through the whole pipeline (built once for the module)."""
    from minqing.pipeline import run

    landing = tmp_path_factory.mktemp("briefing") / "landing"
    generate(landing, days=DAYS, seed=23, per_day=25, start=START)
    with migrated_database(server_url) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        run(landing)
        yield url


@pytest.fixture()
def on_built(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", built)
    return built


def _rows(url: str, section: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute("select * from marts.rpt_dispatch_briefing where briefing_date = %s and section = %s "
                              "order by item_rank", (BRIEFING_DATE, section))
        names = [c.name for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def _one(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_briefing_mart_holds_the_day_after_the_data_and_its_figures_match_the_facts(built):
    summary = {r["metric"]: r for r in _rows(built, "summary")}
    assert {r["data_date"] for r in summary.values()} == {DATA_DATE}
    received = _one(built, "select count(*) from marts.fct_complaints where received_date = %s", DATA_DATE)
    day_before = _one(built, "select count(*) from marts.fct_complaints where received_date = %s",
                      DATA_DATE - dt.timedelta(days=1))
    proactive = _one(built, "select count(*) from marts.fct_complaints where received_date = %s and is_proactive",
                     DATA_DATE)
    assert summary["received"]["value"] == received > 0
    assert summary["received"]["previous_value"] == day_before
    assert summary["proactive_found"]["value"] == proactive
    assert summary["complaints"]["value"] == received - proactive
    assert summary["proactive_share"]["value"] == round(Decimal(proactive) / received, 4)
    overdue = _one(built, "select count(*) from marts.fct_complaints where is_overdue and closed_at is null "
                          "and status not in ('closed', 'cancelled')")
    assert summary["overdue_open"]["value"] == overdue
    assert summary["early_warnings"]["value"] == _one(built, "select count(*) from marts.rpt_early_warnings")

    by_channel = {r["source_channel"]: r["value"] for r in _rows(built, "received_by_channel")}
    facts = dict(_one_rows(built, "select source_channel, count(*) from marts.fct_complaints "
                                  "where received_date = %s group by 1", DATA_DATE))
    assert by_channel == {c: facts.get(c, 0) for c in ("hotline_12345", "hotline_400", "miniprogram", "reception")}
    assert sum(r["value"] for r in _rows(built, "received_by_community")) == received
    assert sum(r["value"] for r in _rows(built, "received_by_category")) == received

    trend = _rows(built, "volume_trend")
    assert len({r["series_date"] for r in trend}) == 30 and max(r["series_date"] for r in trend) == DATA_DATE
    in_window = _one(built, "select count(*) from marts.fct_complaints where received_date between %s and %s",
                     DATA_DATE - dt.timedelta(days=29), DATA_DATE)
    # a channel-day with no delivery in and no record has no figure (never 0), and is marked incomplete
    assert all(r["is_incomplete"] for r in trend if r["value"] is None)
    assert sum(r["value"] or 0 for r in trend) == in_window

    overdue_list = _rows(built, "overdue_order")
    assert len(overdue_list) == min(overdue, 30)
    hours = [r["value"] for r in overdue_list]
    assert hours == sorted(hours, reverse=True) and all(h > 0 for h in hours)
    assert all(r["handling_unit"] and r["source_record_id"] for r in overdue_list)

    rates = {r["metric"]: r for r in _rows(built, "three_rates")}
    month = _one_rows(built, "select response_rate, resolution_rate, satisfaction_rate, composite_score "
                             "from marts.mart_three_rates where period_grain = 'month' and area_level = 'street' "
                             "and channel_scope = 'ranked' and period_start = %s", DATA_DATE.replace(day=1))[0]
    assert [rates[m]["value"] for m in ("response_rate", "resolution_rate", "satisfaction_rate", "composite_score")
            ] == list(month)

    for rise in _rows(built, "sentiment_rise"):
        assert rise["value"] > rise["previous_value"] and rise["detail_zh"]


def _one_rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def _chromium() -> str:
    found = briefing.chromium_executable()
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the browser tests: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    return found


def test_briefing_page_renders_in_headless_chromium_and_shows_the_warehouse_figures(on_built, tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    assert cli.main(["briefing", "--date", BRIEFING_DATE.isoformat(), "--out", str(tmp_path), "--no-pdf"]) == 0
    page_path = tmp_path / f"briefing_{BRIEFING_DATE}.html"
    assert page_path.exists()

    with psycopg.connect(on_built) as conn:
        cursor = conn.execute("select * from marts.rpt_dispatch_briefing where briefing_date = %s", (BRIEFING_DATE,))
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    expected = {}
    for row in rows:
        for field in ("value", "previous_value"):
            expected[(row["section"], briefing.row_key(row), field)] = row[field]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking",
            "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems, requests = [], []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_path.as_uri(), wait_until="load")
        shown = page.eval_on_selector_all(
            "[data-value]", "els => els.map(e => [e.dataset.section, e.dataset.key, e.dataset.field, "
                            "e.dataset.value, e.textContent.trim()])")
        title = page.title()
        page.screenshot(path=str(ARTIFACTS / f"briefing_{BRIEFING_DATE}.png"), full_page=True)
        browser.close()

    assert problems == []
    assert requests == [page_path.as_uri()]  # self-contained: nothing fetched from anywhere else
    assert title == f"每日调度简报 {BRIEFING_DATE}"
    assert len(shown) > 100
    seen = set()
    for section, key, field, value, text in shown:
        assert (section, key, field) in expected, (section, key, field)
        truth = expected[(section, key, field)]
        assert (Decimal(value) if value else None) == truth, (section, key, field, value, truth)
        assert text, (section, key, field)
        seen.add((section, key))
    # every row of the day is on the page, and what is written is the warehouse's figure, formatted
    assert seen == {(r["section"], briefing.row_key(r)) for r in rows}
    texts = {(s, k, f): t for s, k, f, _, t in shown}
    summary = {r["metric"]: r for r in rows if r["section"] == "summary"}
    received = summary["received"]
    assert texts[("summary", briefing.row_key(received), "value")] == f"{int(received['value']):,}"
    share = summary["proactive_share"]
    assert texts[("summary", briefing.row_key(share), "value")] == f"{share['value'] * 100:.1f}%"


def test_briefing_prints_to_pdf(on_built, tmp_path):
    _chromium()
    written = briefing.write(BRIEFING_DATE, tmp_path, pdf=True)
    pdf = written["pdf"]
    assert pdf and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    csvs = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert len(csvs) == len(briefing.TABLES)
    overdue = (tmp_path / f"{BRIEFING_DATE:%Y%m%d}_超期未办结工单.csv").read_text(encoding="utf-8")
    assert overdue.startswith("\ufeff工单编号,")


def test_briefing_for_a_day_not_held_says_which_days_are(on_built, tmp_path, capsys):
    assert cli.main(["briefing", "--date", "2020-01-01", "--out", str(tmp_path), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "no briefing for 2020-01-01" in err and BRIEFING_DATE.isoformat() in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("payload", ["=1+1", "+8613800000000", "-2+3", "@SUM(A1)", "\t=cmd", "=HYPERLINK(\"x\")"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(payload):
    assert neutralise(payload) == "'" + payload
    text = to_csv(["说明"], [[payload], [-2], ["普通文本"]])
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[2] == "-2" and lines[3] == "普通文本"  # numbers stay numbers, plain text untouched
    assert not lines[1].lstrip('"').startswith(("=", "+", "-", "@", "\t"))
