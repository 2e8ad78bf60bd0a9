"""Batches held back: the files of a channel batch that failed validation as a whole.

When a channel's batch fails (more than `quality.max_failing_share` of its rows break a rule, an
expectation fails without naming rows, or the suite cannot run at all), its files are marked `held`
in `ops.ingested_files`: their rows stay in `raw`, counted as loaded, but staging reads no held file,
so nothing of them reaches the marts or the briefing, which says the channel is held. A person then
decides, file by file (`minqing held release|reject`):

- release: the person has checked the rows; the file is `loaded` again and counts as validated, and
  the next run builds it (the incremental models start over once, see macros/incremental.sql);
- reject: every row of the file moves to `raw.quarantine` (stage 'review') with the person's reason.

Either way `rows_in = rows_loaded + rows_quarantined` still holds for the file, and its content stays
known: the same bytes delivered again are a duplicate. Every hold, release and reject is kept in
`ops.file_decisions` with its reason, who and when.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass

import psycopg
from psycopg import sql

from minqing import warehouse
from quality.suites import CHANNEL_SUITES

PIPELINE = "pipeline"  # decided_by of the holds the pipeline makes


class DecisionRefused(ValueError):
    """A release or reject that cannot be made (no such file, or not held)."""


@dataclass
class HeldFile:
    file_id: int
    channel: str
    path: str
    rows_loaded: int
    rows_quarantined: int
    held_at: object
    reason: str
    run_name: str | None


def hold(conn: psycopg.Connection, file_ids: list[int], reason: str, run_name: str | None) -> list[int]:
    """Mark the loaded files among `file_ids` held, in the caller's transaction; returns those held."""
    held = [file_id for (file_id,) in conn.execute(
        """update ops.ingested_files set status = 'held'
            where file_id = any(%s) and status = 'loaded' and rows_loaded > 0
        returning file_id""", (list(file_ids),)).fetchall()]
    if held:
        with conn.cursor() as cur:
            cur.executemany(
                """insert into ops.file_decisions (file_id, decision, reason, decided_by, run_name)
                   values (%s, 'held', %s, %s, %s)""",
                [(file_id, reason, PIPELINE, run_name) for file_id in sorted(held)])
    return sorted(held)


def held_files() -> list[HeldFile]:
    with warehouse.connect() as conn:
        rows = conn.execute(
            """select f.file_id, f.channel, f.path, f.rows_loaded, f.rows_quarantined,
                      d.decided_at, d.reason, d.run_name
                 from ops.ingested_files as f
                 cross join lateral (
                     select * from ops.file_decisions as d
                      where d.file_id = f.file_id and d.decision = 'held'
                      order by d.decision_id desc limit 1) as d
                where f.status = 'held'
                order by f.file_id""").fetchall()
    return [HeldFile(*row) for row in rows]


def _decided_by(who: str | None) -> str:
    return (who or getpass.getuser() or "").strip() or "unknown"


def _held(conn: psycopg.Connection, file_id: int) -> tuple[str, int]:
    """(channel, rows_loaded) of a held file, locked for the decision; refuses any other file."""
    row = conn.execute("select channel, status, rows_loaded from ops.ingested_files where file_id = %s for update",
                       (file_id,)).fetchone()
    if row is None:
        raise DecisionRefused(f"no file {file_id} in ops.ingested_files")
    channel, status, rows_loaded = row
    if status != "held":
        raise DecisionRefused(f"file {file_id} is {status}, not held: only a held file can be released or rejected")
    return channel, rows_loaded


def _require_reason(reason: str) -> str:
    if not (reason or "").strip():
        raise DecisionRefused("a reason is required: say what was checked, for whoever reads the file's history")
    return reason.strip()


def release(file_id: int, reason: str, who: str | None = None) -> int:
    """A person has checked the held file: its rows go on at the next run. Returns its rows."""
    reason = _require_reason(reason)
    with warehouse.connect() as conn, conn.transaction():
        _, rows = _held(conn, file_id)
        conn.execute("update ops.ingested_files set status = 'loaded', validated_at = now() where file_id = %s",
                     (file_id,))
        conn.execute("""insert into ops.file_decisions (file_id, decision, reason, decided_by)
                        values (%s, 'released', %s, %s)""", (file_id, reason, _decided_by(who)))
    return rows


def reject(file_id: int, reason: str, who: str | None = None) -> int:
    """Every row of the held file moves to raw.quarantine with the person's reason. Returns the rows moved."""
    from quality.channels import move_to_quarantine

    reason = _require_reason(reason)
    who = _decided_by(who)
    with warehouse.connect() as conn, conn.transaction():
        channel, rows = _held(conn, file_id)
        text = f"rejected by {who} after the batch was held: {reason}"
        bad = sql.SQL("select %s::bigint as file_id, 'rejected'::text as check_name, %s::text as reason")
        moved = move_to_quarantine(conn, CHANNEL_SUITES[channel], bad, sql.SQL("t.file_id = b.file_id"),
                                   (file_id, text), stage="review")
        if moved != rows:
            raise RuntimeError(f"file {file_id}: {moved} rows moved, {rows} counted as loaded; nothing applied")
        # the move left the file 'quarantined' (no row loaded); its reason is the person's
        conn.execute("update ops.ingested_files set reason = %s where file_id = %s", (text, file_id))
        conn.execute("""insert into ops.file_decisions (file_id, decision, reason, decided_by)
                        values (%s, 'rejected', %s, %s)""", (file_id, reason, who))
    return moved
