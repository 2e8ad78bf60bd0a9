"""Faults: what the warehouse looks like after a run is cut short, and that the next run finishes.

Each test breaks a run for real, against real PostgreSQL servers (nothing of the database is
mocked), then checks that the warehouse is either as before the run or as after a clean one —
never a part of a file — and that running again completes the work, by comparing with a clean
ingest of the same landing folder into another fresh database.

- the loader killed with SIGKILL mid-file (test_kill_9_mid_file_leaves_nothing_and_the_next_run_completes);
- the loader's connection cut by the server (pg_terminate_backend) and a real restart of a server
  of its own, fast and immediate (crash recovery);
- dbt failing half-way through a build;
- landing entries that cannot be read (a file without read permission for a real EACCES — the
  loader runs as root without CAP_DAC_OVERRIDE —, a link to nothing, a named pipe) and a disk that
  is really full (ENOSPC from a tiny tmpfs mounted in a private mount namespace under a tablespace);
- two ingests of the same folder at once, and two pipeline runs at once.

The loader is paused deterministically, never by sleeping: the test holds a lock the loader needs
next (a table lock on raw.quarantine, whose COPY comes after the file's rows, or the advisory lock
of a file's SHA-256) and waits until pg_stat_activity / pg_locks show the loader waiting for it.
The only timeouts are safety nets against a hang, not assertions about speed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest

from ingestion import loader
from ingestion.loader import discover, ingest
from minqing import pipeline, transform, warehouse
from minqing.devtools.generate import generate

from conftest import migrated_database

REPO = Path(__file__).resolve().parents[2]
START = dt.date(2026, 7, 10)
RAW_TABLES = ("raw.hotline_work_orders", "raw.miniprogram_tickets", "raw.reception_entries", "raw.quarantine")
IS_ROOT = os.geteuid() == 0


# --- helpers -----------------------------------------------------------------------------------

def _wait_until(condition, what: str, timeout: float = 120.0):
    """Poll until `condition()` is truthy. The timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _database(server_url: str):
    """A new database on the server, migrated, dropped afterwards; yields its URL."""
    with migrated_database(server_url, prefix="minqing_faults") as url:
        yield url


@contextlib.contextmanager
def _warehouse_url(url: str):
    before = os.environ.get("WAREHOUSE_URL")
    os.environ["WAREHOUSE_URL"] = url
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("WAREHOUSE_URL", None)
        else:
            os.environ["WAREHOUSE_URL"] = before


def _ingest_into(url: str, landing: Path, **kwargs):
    with _warehouse_url(url):
        return ingest(landing, progress=False, **kwargs)


def _state(url: str) -> dict:
    """What ingestion leaves behind, independent of file ids and of the order files were met in."""
    with psycopg.connect(url) as conn:
        state = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in RAW_TABLES}
        state["files"] = sorted(conn.execute(
            "select sha256, channel, status, rows_in, rows_loaded, rows_quarantined from ops.ingested_files"
        ).fetchall())
        state["sightings"] = sorted(conn.execute("select path, sha256 from ops.file_sightings").fetchall())
    return state


def _clean_state(server_url: str, landing: Path) -> dict:
    """The state a clean, uninterrupted ingest of `landing` gives in a fresh database."""
    with _database(server_url) as url:
        _ingest_into(url, landing)
        return _state(url)


def _assert_whole_files(url: str) -> None:
    """Every recorded file has exactly its rows in raw and its quarantined rows; nothing belongs to no file."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """select f.path, f.status, f.rows_in, f.rows_loaded, f.rows_quarantined,
                      (select count(*) from raw.hotline_work_orders r where r.file_id = f.file_id)
                    + (select count(*) from raw.miniprogram_tickets r where r.file_id = f.file_id)
                    + (select count(*) from raw.reception_entries r where r.file_id = f.file_id),
                      (select count(*) from raw.quarantine q where q.file_id = f.file_id),
                      (select count(*) from ops.file_sightings s where s.file_id = f.file_id)
               from ops.ingested_files f""").fetchall()
    for path, status, rows_in, loaded, quarantined, raw_rows, quarantine_rows, sightings in rows:
        assert rows_in == loaded + quarantined, path
        assert raw_rows == loaded, path
        whole_file = status == "quarantined" and quarantined == 0 and quarantine_rows == 1
        assert quarantine_rows == quarantined or whole_file, path
        assert sightings >= 1, path


def _landing(root: Path, days: int = 3, per_day: int = 60, seed: int = 17) -> Path:
    landing = root / "landing"
    generate(landing, days=days, seed=seed, per_day=per_day, start=START)
    return landing


def _new_files(url: str, landing: Path) -> list[tuple[str, str]]:
    """(relative path, sha256) of the files a run would load, in the loader's order."""
    with psycopg.connect(url) as conn:
        known = {r[0] for r in conn.execute("select sha256 from ops.ingested_files")}
    found, seen = [], set()
    for _, path in discover(landing):
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if sha not in known and sha not in seen:
            found.append((path.relative_to(landing).as_posix(), sha))
            seen.add(sha)
    return found


def _cli_ingest(url: str, landing: Path, wrapper: list[str] | None = None, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "WAREHOUSE_URL": url, "PYTHONUNBUFFERED": "1"}
    command = [*(wrapper or []), sys.executable, "-m", "minqing.cli", "ingest", "--landing", str(landing), "--json"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def _backend_waiting(monitor: psycopg.Connection, query_like: str, exclude: set[int] = frozenset()) -> int | None:
    """The pid of a backend of this database waiting on a lock while running a statement like `query_like`."""
    rows = monitor.execute(
        """select pid from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()
             and wait_event_type = 'Lock' and query ilike %s""", (query_like,)).fetchall()
    pids = [r[0] for r in rows if r[0] not in exclude]
    return pids[0] if pids else None


def _backend_gone(monitor: psycopg.Connection, pid: int) -> bool:
    return monitor.execute("select count(*) = 0 from pg_stat_activity where pid = %s", (pid,)).fetchone()[0]


def _advisory_waiters(monitor: psycopg.Connection, key: int) -> int:
    return monitor.execute(
        """select count(*) from pg_locks
           where locktype = 'advisory' and not granted and objsubid = 1
             and database = (select oid from pg_database where datname = current_database())
             and classid = %s and objid = %s""", ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchone()[0]


def _heap_size(monitor: psycopg.Connection, table: str) -> int:
    """The bytes of the table's heap, its month partitions' summed (migration 0015)."""
    return monitor.execute("select coalesce(sum(pg_relation_size(relid)), 0) from pg_partition_tree(%s::regclass)",
                           (table,)).fetchone()[0]


@contextlib.contextmanager
def _loader_paused(url: str, before_file_sha: str | None = None):
    """Make a loader that starts now stop half-way, deterministically. By default the test holds
    raw.quarantine (share mode), so the loader stops right after COPYing the first new file's rows
    into raw, at that file's quarantine COPY; with `before_file_sha`, the test holds that file's
    advisory lock, so the loader stops once every file before it is written. Yields (a monitoring
    connection, the pattern of the statement the loader will be seen waiting in, a release function)."""
    blocker = psycopg.connect(url, autocommit=before_file_sha is not None)
    if before_file_sha is None:
        blocker.execute("lock table raw.quarantine in share mode")
        waiting_in, release = "copy raw.quarantine%", blocker.rollback
    else:
        key = loader._lock_key(before_file_sha)
        blocker.execute("select pg_advisory_lock(%s)", (key,))
        waiting_in = "%pg_advisory_xact_lock%"

        def release():
            blocker.execute("select pg_advisory_unlock(%s)", (key,))
    monitor = psycopg.connect(url, autocommit=True)
    try:
        yield monitor, waiting_in, release
    finally:
        with contextlib.suppress(psycopg.Error):
            blocker.close()
        with contextlib.suppress(psycopg.Error):
            monitor.close()


# --- a PostgreSQL server of the test's own ----------------------------------------------------

class ScratchServer:
    """A PostgreSQL cluster in a temporary folder, from the binaries pgserver ships, for the faults
    the shared test server must not suffer: a restart, a full disk. As root, it runs as the system
    user pgserver created for the embedded warehouse (PostgreSQL refuses to run as root)."""

    def __init__(self):
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.owner = None
        if IS_ROOT:
            try:
                self.owner = pwd.getpwnam("pgserver")
            except KeyError:
                pytest.skip("running as root needs the system user 'pgserver' (created by the embedded warehouse)")
        # under /tmp, not pytest's tmp_path: the server's user must be able to reach it
        self.root = Path(tempfile.mkdtemp(prefix="minqing_scratch_"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.tablespace = self.root / "tiny"
        self.tablespace.mkdir()
        if self.owner:
            for path in (self.root, self.tablespace):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                   "-E", "utf8", "--no-sync"], "initdb.log")

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", self.owner.pw_name, "--", *command] if self.owner else command

    def _run(self, command: list[str], log: str, wrap=True) -> None:
        with open(self.root / log, "ab") as out:  # files, not pipes: pg_ctl keeps its output open
            subprocess.run(self._as_owner(command) if wrap else command, check=True, stdout=out, stderr=out,
                           timeout=120)

    def _pg_ctl(self, *args: str) -> list[str]:
        return [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", *args]

    def start(self, tiny_tmpfs: str | None = None) -> None:
        """Start the server; with `tiny_tmpfs` (a size such as '512k'), in a mount namespace of its own
        in which a tmpfs of that size is mounted on `self.tablespace`: only this server sees it."""
        start = self._pg_ctl("-o", f"-k {self.root} -h ''", "start")
        if not tiny_tmpfs:
            self._run(start, "pg_ctl.log")
            return
        owner = f"uid={self.owner.pw_uid},gid={self.owner.pw_gid}," if self.owner else ""
        script = (f"mount -t tmpfs -o size={tiny_tmpfs},{owner}mode=0700 minqing_tiny {self.tablespace} "
                  f'&& exec "$@"')
        self._run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                   *self._as_owner(start)], "pg_ctl.log", wrap=False)

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], "pg_ctl.log")

    @property
    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])

    def in_its_namespace(self, path: Path) -> Path:
        """`path` as the server sees it (through /proc, into its mount namespace)."""
        return Path(f"/proc/{self.pid}/root{path}")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.root}"

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture()
def scratch_server():
    server = ScratchServer()
    try:
        yield server
    finally:
        server.cleanup()


def _scratch_database(server: ScratchServer) -> str:
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute('create database "minqing"')
    url = server.url("minqing")
    with _warehouse_url(url):
        warehouse.migrate()
    return url


# --- 1. kill -9 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["after_the_files_rows", "at_a_later_file"])
def test_kill_9_mid_file_leaves_nothing_and_the_next_run_completes(fresh_warehouse, server_url, tmp_path, where):
    """The loader (`minqing ingest` in its own process) is SIGKILLed with a file half-written:
    - after_the_files_rows: the first new file's rows are COPYed into raw (the heap grew), its
      quarantine COPY is waiting;
    - at_a_later_file: the hotline files of the run are written, the first mini-program file is
      waiting for its advisory lock.
    Afterwards the warehouse is exactly as before the run (one transaction per ingest: files already
    written by the killed run go too, so the next run loads — and validates — them all), and the
    next run ends where a clean ingest of the same folder ends."""
    landing = _landing(tmp_path)
    _ingest_into(fresh_warehouse, landing, day=START)  # the first day: what was there before the run
    before = _state(fresh_warehouse)
    new = _new_files(fresh_warehouse, landing)
    assert len(new) > 3

    later = next(sha for name, sha in new if name.startswith("miniprogram/")) if where == "at_a_later_file" else None
    with _loader_paused(fresh_warehouse, later) as (monitor, waiting_in, release):
        heap_before = _heap_size(monitor, "raw.hotline_work_orders")
        process = _cli_ingest(fresh_warehouse, landing)
        pid = _wait_until(lambda: _backend_waiting(monitor, waiting_in), "the loader to pause mid-run")
        assert _heap_size(monitor, "raw.hotline_work_orders") > heap_before  # rows were written, uncommitted
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        # the backend notices its client is gone when it next reads from it: once it has the lock
        release()
        _wait_until(lambda: _backend_gone(monitor, pid), "the killed loader's backend to end")

    assert _state(fresh_warehouse) == before
    _assert_whole_files(fresh_warehouse)
    with psycopg.connect(fresh_warehouse) as conn:  # the file it was killed in, spelled out
        assert conn.execute("select count(*) from ops.ingested_files where sha256 = %s",
                            (later or new[0][1],)).fetchone()[0] == 0

    code, out, err = _finish(_cli_ingest(fresh_warehouse, landing))
    assert code == 0, err
    assert {r["status"] for r in json.loads(out)} <= {"loaded", "duplicate", "quarantined"}
    _assert_whole_files(fresh_warehouse)
    assert _state(fresh_warehouse) == _clean_state(server_url, landing)


# --- 2. the server goes away ------------------------------------------------------------------------

def test_connection_terminated_by_the_server_mid_copy(fresh_warehouse, server_url, tmp_path):
    """pg_terminate_backend on the loader's backend while its file is half-written: what a client
    sees when the server goes away. The loader fails with the server's message and a non-zero exit;
    nothing of the run stays; the next run completes."""
    landing = _landing(tmp_path)
    _ingest_into(fresh_warehouse, landing, day=START)
    before = _state(fresh_warehouse)

    with _loader_paused(fresh_warehouse) as (monitor, waiting_in, release):
        process = _cli_ingest(fresh_warehouse, landing)
        pid = _wait_until(lambda: _backend_waiting(monitor, waiting_in), "the loader to pause mid-file")
        assert monitor.execute("select pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        code, _, err = _finish(process)
        release()
    assert code != 0
    assert "terminating connection due to administrator command" in err

    assert _state(fresh_warehouse) == before
    _assert_whole_files(fresh_warehouse)
    code, _, err = _finish(_cli_ingest(fresh_warehouse, landing))
    assert code == 0, err
    assert _state(fresh_warehouse) == _clean_state(server_url, landing)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restarted_mid_file(scratch_server, server_url, tmp_path, mode):
    """A real restart of a PostgreSQL server of the test's own while the loader has a file
    half-written: `fast` (sessions terminated, checkpoint) and `immediate` (no shutdown at all; the
    restart runs crash recovery from the WAL). After the restart nothing of the run is there; the
    next run completes."""
    scratch_server.start()
    url = _scratch_database(scratch_server)
    landing = _landing(tmp_path)
    _ingest_into(url, landing, day=START)
    before = _state(url)

    with _loader_paused(url) as (monitor, waiting_in, _):
        heap_before = _heap_size(monitor, "raw.hotline_work_orders")
        process = _cli_ingest(url, landing)
        _wait_until(lambda: _backend_waiting(monitor, waiting_in), "the loader to pause mid-file")
        assert _heap_size(monitor, "raw.hotline_work_orders") > heap_before  # rows were written, uncommitted
        scratch_server.stop(mode)
        code, _, err = _finish(process)
    scratch_server.start()
    assert code != 0
    expected = {"fast": ["terminating connection due to administrator command"],
                "immediate": ["server closed the connection unexpectedly", "due to immediate shutdown"]}
    assert any(message in err for message in expected[mode]), err

    assert _state(url) == before
    _assert_whole_files(url)
    code, _, err = _finish(_cli_ingest(url, landing))
    assert code == 0, err
    _assert_whole_files(url)
    assert _state(url) == _clean_state(server_url, landing)


# --- 3. dbt fails half-way ----------------------------------------------------------------------------

def _table(url: str, table: str) -> tuple[int, str]:
    """(row count, digest of every row) of a table."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select count(*), md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from {table} as x").fetchone()


def _marts(url: str) -> dict[str, tuple[int, str]]:
    """(row count, digest of every row) of each table of the marts schema."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1")]
    return {t: _table(url, f"marts.{t}") for t in tables}


@pytest.mark.slow
def test_dbt_failing_half_way_leaves_each_mart_whole(fresh_warehouse, tmp_path):
    """dbt builds, a later day's data arrives, and the next build fails half-way: access.community_members
    (which the publish step of every mart with a community_id needs for its row-level security policy)
    is gone. The marts with a community_id fail — dim_community early, fct_complaints after its new table
    was built and swapped in, since the grants and policies run inside the swap's transaction — and
    everything downstream of them is skipped (every mart with new data now: fct_complaint_status_events
    takes its complaint's street since issue 23), while the models that do not depend on them (the
    intermediate int_complaint_versions, before fct_complaints) are rebuilt with the new data.

    What is atomic: each table. dbt replaces a table model in one transaction (create the new table,
    rename the old away and the new into place, grants and policies, commit) and an incremental one
    by delete+insert in one transaction, so a reader sees a whole old or a whole new table, never a
    mix, and a failure anywhere in that transaction (here the post-hook, after the swap) leaves the
    old table whole. What is NOT atomic: the build as a whole. Each model commits on its own, so after
    a failure half-way the models built before it are new and the failed ones and those downstream
    are old: for a while a reader can join a new int_complaint_versions with an old fct_complaints.
    The next successful build makes them agree; dbt leaves no __dbt_tmp / __dbt_backup tables behind.
    """
    landing = _landing(tmp_path, days=4, per_day=20)
    ingest(landing, day=START + dt.timedelta(days=1), progress=False)
    pipeline.classify()
    first = transform.build(selector=pipeline.BEFORE_FORECAST)
    assert first.success, first.failures
    old = _marts(fresh_warehouse)
    old_versions = _table(fresh_warehouse, "intermediate.int_complaint_versions")

    ingest(landing, progress=False)
    pipeline.classify()
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("alter table access.community_members rename to community_members_gone")
    broken = transform.build(selector=pipeline.BEFORE_FORECAST)
    assert not broken.success
    failed = {f["node"] for f in broken.failures}
    assert {"model.minqing.dim_community", "model.minqing.fct_complaints"} <= failed
    assert all("community_members" in f["message"] for f in broken.failures)
    skipped = {r["node"] for r in broken.results if r["status"] == "skipped"}
    assert "model.minqing.mart_three_rates" in skipped
    during = _marts(fresh_warehouse)
    during_versions = _table(fresh_warehouse, "intermediate.int_complaint_versions")
    with psycopg.connect(fresh_warehouse) as conn:
        leftovers = conn.execute("select relname from pg_class where relname like '%\\_\\_dbt\\_tmp' "
                                 "or relname like '%\\_\\_dbt\\_backup'").fetchall()
    assert leftovers == []

    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("alter table access.community_members_gone rename to community_members")
    fixed = transform.build(selector=pipeline.BEFORE_FORECAST)
    assert fixed.success, fixed.failures
    new = _marts(fresh_warehouse)

    assert set(old) == set(during) == set(new)
    for table in new:
        assert during[table] in (old[table], new[table]), f"{table} is neither its old nor its new content"
    assert during["fct_complaints"] == old["fct_complaints"] != new["fct_complaints"]  # failed after its swap
    assert during_versions == _table(fresh_warehouse, "intermediate.int_complaint_versions") != old_versions  # built
    assert during["fct_complaint_status_events"] == old["fct_complaint_status_events"] != new[
        "fct_complaint_status_events"]  # downstream of fct_complaints: skipped
    assert during["fct_daily_complaint_counts"] == old["fct_daily_complaint_counts"] != new[
        "fct_daily_complaint_counts"]  # downstream: skipped


# --- 4. landing entries that cannot be read, and a full disk ------------------------------------

def _without_dac_override() -> list[str]:
    """Run as root WITHOUT the capabilities that let root read any file: a file with mode 000 then
    really fails to open with EACCES. Not root: permissions apply anyway."""
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] if IS_ROOT else []


def test_unreadable_landing_entries_are_reported_and_the_rest_loads(scratch_server, server_url, tmp_path):
    """Three entries the loader cannot read, each a real failure even for root: a file without read
    permission (the loader runs without CAP_DAC_OVERRIDE, so open() fails with EACCES), a link whose
    target is missing (ENOENT), and a named pipe (opened without blocking and refused; reading it
    would hang the run). Each is reported `unreadable` with a reason and logged as an error; nothing
    is recorded for it; every other file loads and the counts add up. Once fixed, the next run takes
    them, and the warehouse ends as a clean ingest of the folder."""
    if IS_ROOT and shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file-permission override")
    scratch_server.start()  # its socket is reachable without CAP_DAC_OVERRIDE; the shared one's is not
    url = _scratch_database(scratch_server)
    landing = _landing(tmp_path, days=3, per_day=30)
    complete = _clean_state(server_url, landing)

    files = [p for _, p in discover(landing)]
    denied = next(p for p in files if p.name.startswith("12345_") and "resend" not in p.name)
    dangling = next(p for p in files if p.name.startswith("400_"))
    piped = next(p for p in files if p.parent.name == "miniprogram")
    aside = tmp_path / "aside"
    aside.mkdir()
    denied.chmod(0o000)
    shutil.move(dangling, aside / dangling.name)
    dangling.symlink_to(tmp_path / "moved_away" / dangling.name)
    shutil.move(piped, aside / piped.name)
    os.mkfifo(piped)
    broken = {p.relative_to(landing).as_posix(): p for p in (denied, dangling, piped)}
    try:
        code, out, err = _finish(_cli_ingest(url, landing, wrapper=_without_dac_override()))
    finally:
        denied.chmod(0o644)
    assert code == 1, err  # nothing is lost, but someone must look
    reports = {r["file"]: r for r in json.loads(out)}
    for name in broken:
        report = reports[name]
        assert report["status"] == "unreadable", report
        assert [report[k] for k in ("rows_in", "rows_loaded", "rows_quarantined", "sha256")] == [0, 0, 0, None]
        assert "cannot be read" in report["reason"] and "next run" in report["reason"]
        assert f"ERROR ingestion.loader: {name}: the file cannot be read" in err
    assert "Permission denied" in reports[denied.relative_to(landing).as_posix()]["reason"]
    assert "which does not exist" in reports[dangling.relative_to(landing).as_posix()]["reason"]
    assert "named pipe" in reports[piped.relative_to(landing).as_posix()]["reason"]
    others = [r for name, r in reports.items() if name not in broken]
    assert all(r["status"] in ("loaded", "quarantined", "duplicate") for r in others)
    assert sum(r["status"] == "loaded" for r in others) >= 5
    for r in reports.values():
        assert r["rows_in"] == r["rows_loaded"] + r["rows_quarantined"]
    _assert_whole_files(url)
    with psycopg.connect(url) as conn:
        recorded = {r[0] for r in conn.execute("select path from ops.file_sightings")}
        raw_rows = sum(conn.execute(f"select count(*) from {t}").fetchone()[0] for t in RAW_TABLES[:3])
    assert not recorded & set(broken)
    assert raw_rows == sum(r["rows_loaded"] for r in others)
    assert _state(url) != complete

    # fixed: permissions restored (above), the link's target put back, the pipe replaced by the file
    dangling.unlink()
    shutil.move(aside / dangling.name, dangling)
    piped.unlink()
    shutil.move(aside / piped.name, piped)
    code, out, err = _finish(_cli_ingest(url, landing, wrapper=_without_dac_override()))
    assert code == 0, err
    again = {r["file"]: r for r in json.loads(out)}
    assert all(again[name]["status"] in ("loaded", "quarantined", "duplicate") for name in broken)
    assert any(again[name]["status"] == "loaded" for name in broken)
    _assert_whole_files(url)
    assert _state(url) == complete


def test_disk_full_while_writing_the_quarantine(scratch_server, server_url, tmp_path):
    """A real ENOSPC: the server's raw.quarantine lives in a tablespace on a 512 kB tmpfs, mounted
    in a mount namespace of the server's own (so nothing outside the test sees it), and filled up.
    The run fails with PostgreSQL's disk-full error when it writes a file's quarantined rows, after
    other files of the run were written; the warehouse is as before the run. Space freed, the next
    run completes and ends as a clean ingest."""
    if not IS_ROOT or shutil.which("unshare") is None:
        pytest.skip("mounting a tmpfs in a private mount namespace needs root and unshare")
    try:
        scratch_server.start(tiny_tmpfs="512k")
    except subprocess.CalledProcessError:
        pytest.skip("this machine does not allow mounting a tmpfs in a private mount namespace: "
                    + (scratch_server.root / "pg_ctl.log").read_text(errors="replace")[-300:])
    url = _scratch_database(scratch_server)
    landing = _landing(tmp_path, days=2, per_day=40)
    # a file of many broken records: its quarantine needs more than the free space of a page
    broken = landing / "miniprogram" / "tickets_20260711_retry.jsonl"
    broken.write_text("".join(f'{{"ticket_id": "MP{i}", "type": "rep\n' for i in range(400)), encoding="utf-8")
    _ingest_into(url, landing, day=START)
    before = _state(url)
    complete = _clean_state(server_url, landing)

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"create tablespace tiny location '{scratch_server.tablespace}'")
        conn.execute("alter table raw.quarantine set tablespace tiny")
    ballast = scratch_server.in_its_namespace(scratch_server.tablespace) / "ballast"
    with pytest.raises(OSError) as full, open(ballast, "wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 65536)
    assert full.value.errno == 28  # ENOSPC: the disk is really full

    with pytest.raises(psycopg.errors.DiskFull, match="No space left on device"):
        _ingest_into(url, landing)
    assert _state(url) == before
    _assert_whole_files(url)

    ballast.unlink()  # space freed
    reports = _ingest_into(url, landing)
    assert any(r.file == broken.relative_to(landing).as_posix() and r.rows_quarantined == 400 for r in reports)
    _assert_whole_files(url)
    assert _state(url) == complete


# --- 5. concurrency ---------------------------------------------------------------------------------

def test_two_ingests_at_once_load_each_file_once(fresh_warehouse, server_url, tmp_path):
    """Two `minqing ingest` processes on the same folder at once. The test holds the advisory lock of
    the first file's content until both loaders wait for it, so they really meet on it; then one
    loads everything and the other, waiting on that lock until the first commits, finds every file a
    duplicate. Both exit 0; each content is loaded exactly once; the warehouse is a clean ingest's."""
    landing = _landing(tmp_path)
    (first_file, first_sha), *_ = _new_files(fresh_warehouse, landing)
    key = loader._lock_key(first_sha)
    with psycopg.connect(fresh_warehouse, autocommit=True) as monitor:
        monitor.execute("select pg_advisory_lock(%s)", (key,))
        processes = [_cli_ingest(fresh_warehouse, landing) for _ in range(2)]
        _wait_until(lambda: _advisory_waiters(monitor, key) == 2, f"both loaders to wait for {first_file}")
        monitor.execute("select pg_advisory_unlock(%s)", (key,))
        results = [_finish(p) for p in processes]
    for code, _, err in results:
        assert code == 0, err
    reports = [json.loads(out) for _, out, _ in results]

    loaders = [r for r in reports if any(x["status"] != "duplicate" for x in r)]
    assert len(loaders) == 1, "exactly one process loads; the other finds duplicates only"
    second = next(r for r in reports if r is not loaders[0])
    assert {x["status"] for x in second} == {"duplicate"}
    not_duplicate = [x["sha256"] for r in reports for x in r if x["status"] != "duplicate"]
    assert len(not_duplicate) == len(set(not_duplicate))  # each content loaded once
    _assert_whole_files(fresh_warehouse)
    assert _state(fresh_warehouse) == _clean_state(server_url, landing)


def test_two_pipeline_runs_never_interleave(fresh_warehouse, tmp_path, monkeypatch):
    """`pipeline.run` holds a session-level advisory lock (pipeline.RUN_LOCK) for its whole length; a
    second run WAITS for it (blocking pg_advisory_lock), then runs on what the first left: its files
    are duplicates. Ingestion is real; the steps after it (GX, classifier, dbt, forecast) are replaced
    by recorders (the link stage too), as the lock is what is tested and dbt is exercised above. The first run is held
    inside its classify step until the second is seen waiting on the lock in pg_locks."""
    landing = _landing(tmp_path, days=2, per_day=20)
    events: list[tuple[str, str]] = []
    first_inside, let_first_go = threading.Event(), threading.Event()
    real_ingest_channel = pipeline.ingest_channel

    def record(step, result):
        def stub(*args, **kwargs):
            who = threading.current_thread().name
            events.append((who, step))
            if step == "classify" and who == "first":
                first_inside.set()
                assert let_first_go.wait(timeout=120)
            return result() if callable(result) else result
        return stub

    def ingest_channel(channel, landing=None, day=None):
        events.append((threading.current_thread().name, f"ingest {channel}"))
        return real_ingest_channel(channel, landing, day)

    monkeypatch.setattr(pipeline, "ingest_channel", ingest_channel)
    monkeypatch.setattr(pipeline, "validate_channel", record("validate", dict))
    monkeypatch.setattr(pipeline, "classify", record("classify", 0))
    monkeypatch.setattr(pipeline, "build_marts", record("dbt", lambda: {"nodes": 0, "seeds_reused": False, "slowest": {}}))
    monkeypatch.setattr(pipeline, "forecast", record("forecast", dict))
    monkeypatch.setattr(pipeline, "link", record("link", dict))
    monkeypatch.setattr(pipeline, "effects", record("effects", dict))
    monkeypatch.setattr(pipeline, "build_after_forecast", record("dbt after forecast", lambda: {"nodes": 0, "slowest": {}}))

    summaries, errors = {}, {}

    def run(name):
        try:
            summaries[name] = pipeline.run(landing, day=START + dt.timedelta(days=1))
        except BaseException as exc:  # reported below
            errors[name] = exc

    first = threading.Thread(target=run, args=("first",), name="first")
    second = threading.Thread(target=run, args=("second",), name="second")
    first.start()
    _wait_until(lambda: first_inside.is_set() or errors, "the first run to reach its classify step")
    second.start()
    with psycopg.connect(fresh_warehouse, autocommit=True) as monitor:
        _wait_until(lambda: _advisory_waiters(monitor, pipeline.RUN_LOCK) == 1, "the second run to wait")
    assert not [e for e in events if e[0] == "second"]  # it has done nothing yet
    let_first_go.set()
    first.join(timeout=300)
    second.join(timeout=300)
    assert not errors, errors
    assert not first.is_alive() and not second.is_alive()

    order = [who for who, _ in events]
    assert order == sorted(order, key=["first", "second"].index), "the runs interleaved"
    assert [s for w, s in events if w == "first"] == [s for w, s in events if w == "second"]
    assert any(f["status"] == "loaded" for f in summaries["first"].files)
    assert {f["status"] for f in summaries["second"].files} == {"duplicate"}
    _assert_whole_files(fresh_warehouse)
