"""The warehouse: an embedded PostgreSQL under $MINQING_HOME/warehouse, or any server named by WAREHOUSE_URL.

Both paths run the same migrations and the same SQL; only where the URL comes from differs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import signal
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from minqing import config

log = logging.getLogger(__name__)
logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every command it runs at INFO
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # platformdirs, via pgserver

DATABASE = "minqing"
MIGRATION_LOCK = 7_204_301  # pg_advisory_lock key serialising migrations across processes


def is_embedded() -> bool:
    return not config.env("WAREHOUSE_URL")


def data_dir() -> Path:
    return config.home() / "warehouse"


def _embedded_server():
    import pgserver  # imported lazily: an external warehouse does not need it

    return pgserver.get_server(data_dir(), cleanup_mode=None)


def url() -> str:
    """A libpq URL for the warehouse database; starts the embedded server if needed."""
    if not is_embedded():
        return config.env("WAREHOUSE_URL")
    server = _embedded_server()
    base = server.get_uri("postgres")
    with psycopg.connect(base, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE}"')
    return server.get_uri(DATABASE)


def connect(autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url(), autocommit=autocommit)


def start() -> str:
    """Start (embedded) or reach (external) the warehouse and bring its schema up to date."""
    target = url()
    applied = migrate()
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return target


def stop() -> bool:
    """Stop the embedded server. Returns False when there is nothing of ours to stop."""
    if not is_embedded():
        return False
    pgdata = data_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    import psutil

    pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    try:
        postmaster = psutil.Process(pid)
        postmaster.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
        postmaster.wait(timeout=60)
    except psutil.NoSuchProcess:
        return False
    return True


@dataclass
class Status:
    embedded: bool
    running: bool
    url: str | None
    data_dir: str | None
    migrations: list[str]


def status() -> Status:
    embedded = is_embedded()
    running = True
    if embedded:
        pgdata = data_dir()
        running = (pgdata / "postmaster.pid").exists()
    if not running:
        return Status(embedded, False, None, str(data_dir()), [])
    try:
        with connect(autocommit=True) as conn:
            rows = conn.execute("select version from meta.schema_migrations order by version").fetchall()
        migrations = [r[0] for r in rows]
    except psycopg.Error:
        migrations = []
    return Status(embedded, True, url(), str(data_dir()) if embedded else None, migrations)


# --- migrations -------------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[str, str, str]]:
    """(version, file name, SQL) for every migration shipped in minqing/migrations, in order."""
    found = []
    for entry in resources.files("minqing.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((match.group(1), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate() -> list[str]:
    """Apply pending migrations, each in its own transaction; refuse if an applied one was edited."""
    applied_now = []
    with connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute("create schema if not exists meta")
            conn.execute(
                """create table if not exists meta.schema_migrations (
                       version text primary key,
                       name text not null,
                       checksum text not null,
                       applied_at timestamptz not null default now())"""
            )
            done = dict(conn.execute("select version, checksum from meta.schema_migrations").fetchall())
            for version, name, sql in migration_files():
                checksum = hashlib.sha256(sql.encode("utf-8")).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise RuntimeError(
                            f"migration {name} was changed after it was applied; "
                            "add a new migration instead of editing an applied one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute(
                        "insert into meta.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (version, name, checksum),
                    )
                applied_now.append(name)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now


# --- file watermarks: how far a file-driven step has got (migration 0006) ----------------------------

def newest_file_id(conn: psycopg.Connection) -> int:
    """The newest file ingested so far (0 when none)."""
    return conn.execute("select coalesce(max(file_id), 0) from ops.ingested_files").fetchone()[0]


def file_watermark(conn: psycopg.Connection, name: str) -> int:
    """The newest file the step `name` has dealt with (0 when it never ran)."""
    row = conn.execute("select max_file_id from ops.file_watermarks where name = %s", (name,)).fetchone()
    return row[0] if row else 0


def set_file_watermark(conn: psycopg.Connection, name: str, max_file_id: int) -> None:
    conn.execute(
        """insert into ops.file_watermarks (name, max_file_id, recorded_at) values (%s, %s, now())
           on conflict (name) do update set max_file_id = excluded.max_file_id, recorded_at = excluded.recorded_at""",
        (name, max_file_id))
