"""Shared fixtures: a fresh, migrated database on the real warehouse server for each test that asks.

The server is the embedded one under $MINQING_HOME (started by `make test`) or the one named by
WAREHOUSE_URL; each test gets its own database on it, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from minqing import warehouse

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def server_url() -> str:
    return warehouse.url()


@pytest.fixture()
def fresh_warehouse(server_url, monkeypatch):
    """A new empty database, migrated, with WAREHOUSE_URL pointing at it for the test's duration."""
    name = f"minqing_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    monkeypatch.setenv("WAREHOUSE_URL", url)
    warehouse.migrate()
    yield url
    monkeypatch.delenv("WAREHOUSE_URL")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


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
