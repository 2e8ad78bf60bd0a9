"""Shared fixtures: a fresh, migrated database on the real warehouse server for each test that asks.

The server is the embedded one under $MINQING_HOME (started by `make test`) or the one named by
WAREHOUSE_URL; each test gets its own database on it, dropped afterwards (`migrated_database` is the
one factory; `fresh_warehouse` and the module-wide fixtures of the test files use it).

The folders are the kinds of test, and each gets its marker from its folder: `unit` (no database,
under a minute: `pytest tests/unit`), `integration` (one stage against real Postgres), `e2e` (the
whole pipeline, Airflow, the demo, a browser). `pytest -m "not e2e"` runs the first two.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingestion import hotline
from minqing import warehouse

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def server_url() -> str:
    return warehouse.url()


FOLDER_MARKERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        folder = item.path.parent.name
        if folder in FOLDER_MARKERS:
            item.add_marker(folder)


@contextlib.contextmanager
def migrated_database(server_url: str, prefix: str = "minqing_test"):
    """A new database on the server, migrated, dropped afterwards (even when the block fails); yields
    its URL and leaves the environment as it was."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WAREHOUSE_URL", url)
            warehouse.migrate()
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@contextlib.contextmanager
def new_database(server_url: str, monkeypatch: pytest.MonkeyPatch):
    """A migrated database with WAREHOUSE_URL pointing at it inside the block. For fixtures of a wider
    scope than a test, with a `pytest.MonkeyPatch.context()`."""
    with migrated_database(server_url) as url:
        monkeypatch.setenv("WAREHOUSE_URL", url)
        try:
            yield url
        finally:
            monkeypatch.delenv("WAREHOUSE_URL")


@pytest.fixture()
def fresh_warehouse(server_url, monkeypatch):
    """A new empty database, migrated, with WAREHOUSE_URL pointing at it for the test's duration."""
    with new_database(server_url, monkeypatch) as url:
        yield url


def marts_fingerprint(url: str, tables=("fct_complaints", "fct_complaint_status_events", "dim_community"),
                      without: tuple[str, ...] = ()) -> dict[str, str]:
    """A hash of every row of these marts: two warehouses (or one before and after) built the same.
    `without`: columns left out, e.g. `source_file_id`, whose numbers follow the order the files were
    loaded in (parallel ingest tasks under a scheduler, one after another in `dag.test()`). `built_at`,
    the moment of the build that wrote a row, is always left out: a run again rewrites the open ones."""
    without = [*without, "built_at"]
    row = "(to_jsonb(x) - %s::text[])::text"
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select md5(coalesce(string_agg({row}, '|' order by {row}), '')) from marts.{t} x",
                                (without, without)).fetchone()[0] for t in tables}


def differing_columns(url_a: str, url_b: str, table: str) -> list[str]:
    """The columns of marts.<table> whose values (as a multiset, each column alone) differ between two
    warehouses: what a failed fingerprint comparison is about."""
    def per_column(url):
        with psycopg.connect(url) as conn:
            columns = [c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s",
                (table,))]
            return {c: conn.execute(f'select md5(coalesce(string_agg("{c}"::text, \'|\' order by "{c}"::text), \'\')) '
                                    f"from marts.{table}").fetchone()[0] for c in columns}
    a, b = per_column(url_a), per_column(url_b)
    return sorted(c for c in a.keys() | b.keys() if a.get(c) != b.get(c))


@pytest.fixture(autouse=True)
def _hash_key(monkeypatch):
    """A fixed HMAC key so that tests are deterministic and never touch a developer's key file."""
    monkeypatch.setenv("MINQING_HASH_KEY", os.environ.get("MINQING_TEST_HASH_KEY", "test-key-not-secret"))


def store_classifications(conn, texts_and_categories) -> None:
    """Store known categories for texts, as the classifier would: keyed by the same hash expression
    the staging models use, so a scenario's categories do not depend on the keyword rules."""
    for text, category in texts_and_categories:
        conn.execute(
            """insert into ops.text_classifications (text_sha256, category_code, confidence, evidence, classifier_version)
               values (encode(sha256(convert_to(%s, 'UTF8')), 'hex'), %s, 0.9, '{}', 'test')""",
            (text, category))


# The hotline export's columns, in the order of the channel's contract (ingestion/hotline.py).
HOTLINE_HEADER = list(hotline.COLUMNS)


def write_csv(path: Path, header: list[str], rows: list[dict]) -> None:
    """A landing CSV (UTF-8, one row per dict; missing cells empty), its folder created."""
    out = io.StringIO()
    writer = csv.DictWriter(out, header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")


# -- alert receivers (tests/integration/test_alerts.py, tests/e2e/test_dags.py, the scheduler test) ----------------------------------------------------------------------------------------

class _FreePortController(Controller):
    """aiosmtpd's threaded server on a port the OS chooses (its own `port=0` cannot trigger itself)."""

    def _create_server(self):
        sock = socket.socket()
        sock.bind((self.hostname, 0))
        self.port = sock.getsockname()[1]
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)


class _Mailbox:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture()
def smtp_server():
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    mailbox = _Mailbox()
    controller = _FreePortController(mailbox, hostname="127.0.0.1", ready_timeout=5)
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


class _Robot:
    """Records each POST and answers with `answer` (a robot's JSON)."""

    def __init__(self, server):
        self.server = server
        self.requests: list[dict] = []
        self.answer: dict = {"errcode": 0, "errmsg": "ok"}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@contextlib.contextmanager
def _robot_server():
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            answer = json.dumps(state.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = _Robot(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture()
def alert_robot():
    """An HTTP server on 127.0.0.1 that records each POST and answers as a group robot does."""
    with _robot_server() as robot:
        yield robot


@pytest.fixture(scope="module")
def alert_robot_module():
    """The same, for a module's tests together (the real-scheduler tests)."""
    with _robot_server() as robot:
        yield robot


ARTIFACTS = Path(os.environ.get("MINQING_TEST_ARTIFACTS") or Path(__file__).resolve().parents[1] / "test-artifacts")


def chromium_path() -> str:
    """Debian's Chromium, which the browser tests need: CI fails without it, a development machine skips."""
    from minqing.publishing import briefing

    found = briefing.chromium_executable()
    if not found:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the browser tests: .ci/run installs Debian's chromium")
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    return found


@contextlib.contextmanager
def chromium_page(viewport: tuple[int, int] = (1280, 900), offline: bool = False):
    """A page of a real headless Chromium, with what went wrong on it (console errors and warnings, page
    errors) and every URL it asked for: yields (page, problems, requests). `offline`: the network is cut,
    as on a street office's closed network."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking",
            "--disable-component-update"])
        page = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, offline=offline).new_page()
        problems, requests = [], []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
                else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        try:
            yield page, problems, requests
        finally:
            browser.close()
