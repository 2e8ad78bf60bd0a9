"""Pages that open on a closed network (issue 22): every HTML page the project writes under $MINQING_HOME
loads nothing from the internet, and the validation report and the dbt docs render their content in a
headless Chromium whose network is cut, with no console error."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from minqing import cli
from minqing.airflow_stack import free_port
from minqing.devtools.generate import generate
from minqing.pipeline import run

from conftest import chromium_page, migrated_database

pytestmark = pytest.mark.slow

START, DAYS = dt.date(2026, 7, 1), 8

# what makes a browser fetch: a script, style sheet, image, frame, media or font from another host
REMOTE_LOADS = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(?:src|href|data)\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+(?:url\()?\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def home(tmp_path_factory, server_url):
    """A MINQING_HOME of its own, a generated week run through the pipeline, and every page the project
    writes: the briefing (with the validation report beside it), the validation report, the dbt docs, an
    effect page."""
    root = tmp_path_factory.mktemp("offline")
    home = root / "home"
    landing = root / "landing"
    generate(landing, days=DAYS, seed=9, per_day=20, start=START)
    with migrated_database(server_url) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        patch.setenv("MINQING_HOME", str(home))
        run(landing)
        assert cli.main(["briefing", "--out", str(home / "briefings"), "--no-pdf"]) == 0
        assert cli.main(["data-docs"]) == 0
        assert cli.main(["dbt-docs"]) == 0
        assert cli.main(["effect", "--community", "八一厂", "--start", "2026-07-06", "--out", str(home / "effects")]) == 0
        yield home


def test_no_page_the_project_writes_loads_anything_from_the_internet(home):
    pages = sorted(home.rglob("*.html"))
    names = {p.name for p in pages}
    assert {"validation_report.html", "static_index.html"} <= names
    assert any(n.startswith("briefing_") for n in names) and any(n.startswith("effect_") for n in names)
    remote = {str(p.relative_to(home)): m.group(0)[:120] for p in pages
              for m in [REMOTE_LOADS.search(p.read_text(encoding="utf-8", errors="replace"))] if m}
    assert not remote, remote
    assert not [p for p in pages if "data_docs" in p.parts]  # GX's CDN-bound site is not written


def test_the_scan_catches_a_remote_load():
    for html in ('<script src="https://code.jquery.com/jquery.js"></script>', "<link rel=stylesheet href='//cdn/x.css'>",
                 "<style>@import url(https://fonts/x.css)</style>", '<div style="background:url(http://x/y.png)">'):
        assert REMOTE_LOADS.search(html), html
    for html in ('<a href="https://docs.getdbt.com">docs</a>', '<script src="app.js"></script>',
                 '<img src="data:image/png;base64,AAAA">'):
        assert not REMOTE_LOADS.search(html), html


def test_the_validation_report_renders_offline(home):
    report = home / "quality" / "validation_report.html"
    with chromium_page(offline=True) as (page, problems, requests):
        page.goto(report.as_uri())
        assert page.locator("#suites tr").count() > 1
        assert page.locator("tr.expectation").count() > 0
        assert "hotline_raw" in page.locator("#suites").inner_text()
    assert not problems, problems
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


def test_the_briefing_links_its_validation_report(home):
    (briefing,) = sorted((home / "briefings").glob("briefing_*.html"))
    assert 'href="validation_report.html"' in briefing.read_text(encoding="utf-8")
    assert (briefing.parent / "validation_report.html").is_file()


def test_the_dbt_docs_page_renders_a_models_description_offline(home):
    docs = home / "dbt" / "docs" / "static_index.html"
    with chromium_page(offline=True) as (page, problems, requests):
        page.goto(docs.as_uri() + "#!/model/model.minqing.rpt_open311_requests")
        page.wait_for_selector("text=The street's service requests as Open311 shows them", timeout=60_000)
    assert not problems, problems
    assert all(url.startswith(("file:", "data:")) for url in requests), [u for u in requests
                                                                         if not u.startswith(("file:", "data:"))]


def test_docs_serve_serves_the_interactive_site_on_loopback(home, monkeypatch):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "minqing.cli", "docs", "serve", "--port", str(port)],
                              env={**__import__("os").environ, "MINQING_HOME": str(home)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/index.html", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(server.stdout.read().decode(errors="replace")[-2000:]) from None
                time.sleep(0.2)
        assert index.status_code == 200 and "dbt" in index.text
        manifest = httpx.get(f"http://127.0.0.1:{port}/manifest.json", timeout=10)
        assert manifest.status_code == 200 and "model.minqing.rpt_open311_requests" in manifest.json()["nodes"]
    finally:
        server.terminate()
        server.wait(timeout=30)
