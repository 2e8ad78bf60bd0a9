"""The hashing key of personal data (MINQING_HASH_KEY): its fingerprint in the warehouse, and rotation.

Phones and openids are kept in clear only in the restricted `raw` schema; everywhere else a
person is an HMAC of the normalised value (`complainant_key`), which is what repeat-complainant
counts compare. A key change therefore splits every person in two — unless the keys already stored
are recomputed with the new key. `rotate(new_key)` does that for every raw row in one transaction,
from the clear values beside them, and records the new key's fingerprint; the next pipeline run
rebuilds the marts from raw, so repeat counts stay whole across the rotation.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ingestion import pii
from minqing import config, warehouse


class HashKeyMismatch(RuntimeError):
    pass


# raw table -> (primary key columns, key column, clear columns read, how the key is computed)
KEYED_TABLES: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], Callable]] = {
    "raw.hotline_work_orders": (("file_id", "row_number"), "complainant_key", ("complainant_phone",),
                                lambda row, key: pii.phone_key(row[0], key)),
    "raw.miniprogram_tickets": (("file_id", "row_number"), "user_key", ("user_phone", "user_openid"),
                                lambda row, key: pii.phone_key(row[0], key)
                                or (pii.keyed_hash("openid", row[1], key) if row[1] else None)),
    "raw.reception_entries": (("file_id", "sheet", "row_number"), "resident_key", ("resident_contact",),
                              lambda row, key: pii.phone_key(row[0], key)),
}


def check(conn) -> None:
    """Record the key's fingerprint on first use; refuse a different key afterwards."""
    current = pii.key_fingerprint()
    conn.execute("insert into ops.hash_key (fingerprint) values (%s) on conflict do nothing", (current,))
    stored = conn.execute("select fingerprint from ops.hash_key").fetchone()
    if stored[0] != current:
        raise HashKeyMismatch(
            f"MINQING_HASH_KEY is not the key this warehouse's personal data was hashed with (fingerprint "
            f"{current}, warehouse {stored[0]}). Use the original key, or rotate on purpose with "
            f"`minqing rotate-hash-key --new-key-env VAR` (README: rotating the hashing key).")


def rotate(new_key: bytes) -> dict[str, int]:
    """Re-hash every keyed raw row with `new_key` and record its fingerprint, in one transaction.
    The current key must be the warehouse's (checked first). Returns rows updated per table."""
    if len(new_key) < 16:
        raise ValueError("the new hashing key must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    updated = {}
    with warehouse.connect() as conn:
        check(conn)
        conn.execute("lock table ops.hash_key in exclusive mode")
        for table, (keys, key_column, clear, compute) in KEYED_TABLES.items():
            conn.execute(f"create temp table rekey ({', '.join(f'{k} text' for k in keys)}, new_key text) on commit drop")
            # Read first, then COPY: one connection cannot fetch from a cursor while a COPY is open on it.
            rows = conn.execute(f"select {', '.join(keys + clear)} from {table}").fetchall()
            with conn.cursor().copy(f"copy rekey ({', '.join(keys)}, new_key) from stdin") as copy:
                for row in rows:
                    copy.write_row([*row[:len(keys)], compute(row[len(keys):], new_key)])
            match = " and ".join(f"t.{k}::text = rekey.{k}" for k in keys)
            updated[table] = conn.execute(
                f"update {table} t set {key_column} = rekey.new_key from rekey "
                f"where {match} and t.{key_column} is distinct from rekey.new_key").rowcount
            conn.execute("drop table rekey")
        conn.execute("update ops.hash_key set fingerprint = %s, set_at = now()", (pii.key_fingerprint(new_key),))
        conn.commit()
    return updated


def store_new_key_file(new_key: bytes) -> str | None:
    """Without MINQING_HASH_KEY, the key lives in $MINQING_HOME/secrets/hash_key: replace it atomically."""
    if os.environ.get("MINQING_HASH_KEY"):
        return None
    path = config.home() / "secrets" / "hash_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key.decode("utf-8"))
    os.replace(staged, path)
    return str(path)
