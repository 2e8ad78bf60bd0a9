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
import os
import uuid
from pathlib import Path

import psycopg
import pytest
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
