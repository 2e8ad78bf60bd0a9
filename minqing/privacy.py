"""Personal data: normalise, pseudonymise with a keyed hash, mask for display — and the hashing key.

The clear value stays in the restricted raw schema only. The keyed hash (HMAC-SHA256 with the
secret from `minqing.config.hash_key`, MINQING_HASH_KEY) lets the marts count repeat complainants
without knowing who they are; the masked form (`138****5678`, `张*`) is what a person may see.

The key's fingerprint is recorded in the warehouse (`check`): data hashed with two different keys
is never mixed. A key change splits every person in two — unless the keys already stored are
recomputed with the new key: `rotate(new_key, contracts)` does that for every raw row in one
transaction, from the clear values beside them; the next pipeline run rebuilds the marts from raw,
so repeat counts stay whole across the rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from functools import lru_cache

from minqing import config, warehouse

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{9,11}$")
ANONYMOUS = {"匿名", "无", "不详", "未留", "-"}


@lru_cache(maxsize=1)
def _key() -> bytes:
    return config.hash_key()


def keyed_hash(kind: str, value: str, key: bytes | None = None) -> str:
    return _keyed_hash(key or _key(), kind, value)


@lru_cache(maxsize=200_000)
def _keyed_hash(key: bytes, kind: str, value: str) -> str:
    # Cached by key too: a repeat complainant's number is hashed once per process, and a rotated key
    # never meets a stale entry. surrogatepass: a lone surrogate from a JSON \ud800 escape hashes;
    # the loader quarantines its record.
    return hmac.new(key, f"{kind}:{value}".encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]


def key_fingerprint(key: bytes | None = None) -> str:
    """A fingerprint of the hashing key (not the key): the warehouse records it, so that data hashed
    with two different keys is never mixed by mistake."""
    return hmac.new(key or _key(), b"minqing hash key fingerprint", hashlib.sha256).hexdigest()[:16]


def normalise_phone(raw: str | None) -> str | None:
    """Digits of a full phone number (mobile or landline with area code); None if masked or absent."""
    if not raw:
        return None
    digits = _SEPARATORS.sub("", raw)
    if "*" in digits:
        return None
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


def mask_phone(raw: str | None) -> str | None:
    if not raw:
        return None
    digits = normalise_phone(raw)
    if digits is None:
        compact = _SEPARATORS.sub("", raw)
        # Already masked by the source (138****5678) is safe to show; anything else is hidden.
        return compact if "*" in compact else "****"
    if _MOBILE.match(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    area = 3 if digits[1] in "12" else 4  # 010, 02x are three digits; the rest four
    return f"{digits[:area]}-****{digits[-4:]}"


def mask_name(raw: str | None) -> str | None:
    if not raw:
        return None
    name = raw.strip()
    if name in ANONYMOUS:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def phone_key(raw: str | None, key: bytes | None = None) -> str | None:
    digits = normalise_phone(raw)
    return keyed_hash("phone", digits, key) if digits else None


def person_key(phone: str | None, account: str | None = None, key: bytes | None = None) -> str | None:
    """A person's key: of the phone number where there is one (the same phone gives the same key in
    every channel), else of the platform account (a mini-program openid)."""
    return phone_key(phone, key) or (keyed_hash("openid", account, key) if account else None)


def pseudonymise(person, record: dict) -> dict:
    """The key and masks of a record's person, as columns: `person` is a contract's PersonKey
    (key column, phone, name and account columns); each mask is `<clear column>_masked`."""
    return {
        person.column: person_key(record.get(person.phone), record.get(person.account) if person.account else None),
        f"{person.name}_masked": mask_name(record.get(person.name)),
        f"{person.phone}_masked": mask_phone(record.get(person.phone)),
    }


class HashKeyMismatch(RuntimeError):
    pass


def check(conn) -> None:
    """Record the key's fingerprint on first use; refuse a different key afterwards."""
    current = key_fingerprint()
    conn.execute("insert into ops.hash_key (fingerprint) values (%s) on conflict do nothing", (current,))
    stored = conn.execute("select fingerprint from ops.hash_key").fetchone()
    if stored[0] != current:
        raise HashKeyMismatch(
            f"MINQING_HASH_KEY is not the key this warehouse's personal data was hashed with (fingerprint "
            f"{current}, warehouse {stored[0]}). Use the original key, or rotate on purpose with "
            f"`minqing rotate-hash-key --new-key-env VAR` (README: rotating the hashing key).")


def rotate(new_key: bytes, contracts) -> dict[str, int]:
    """Re-hash every keyed raw row with `new_key` and record its fingerprint, in one transaction.
    `contracts`: the channels' contracts (their raw tables, primary keys and person keys). The
    current key must be the warehouse's (checked first). Returns rows updated per table."""
    if len(new_key) < 16:
        raise ValueError("the new hashing key must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    updated = {}
    with warehouse.connect() as conn:
        check(conn)
        conn.execute("lock table ops.hash_key in exclusive mode")
        for contract in contracts:
            table, keys, person = contract.table, contract.key_columns, contract.person
            key_column, clear = person.column, person.clear
            conn.execute(f"create temp table rekey ({', '.join(f'{k} text' for k in keys)}, new_key text) on commit drop")
            # Read first, then COPY: one connection cannot fetch from a cursor while a COPY is open on it.
            rows = conn.execute(f"select {', '.join(keys + clear)} from {table}").fetchall()
            with conn.cursor().copy(f"copy rekey ({', '.join(keys)}, new_key) from stdin") as copy:
                for row in rows:
                    copy.write_row([*row[:len(keys)], person_key(*row[len(keys):], key=new_key)])
            match = " and ".join(f"t.{k}::text = rekey.{k}" for k in keys)
            updated[table] = conn.execute(
                f"update {table} t set {key_column} = rekey.new_key from rekey "
                f"where {match} and t.{key_column} is distinct from rekey.new_key").rowcount
            conn.execute("drop table rekey")
        conn.execute("update ops.hash_key set fingerprint = %s, set_at = now()", (key_fingerprint(new_key),))
        conn.commit()
    return updated


def store_new_key_file(new_key: bytes) -> str | None:
    """Without MINQING_HASH_KEY, the key lives in $MINQING_HOME/secrets/hash_key: replace it atomically."""
    if config.env("MINQING_HASH_KEY"):
        return None
    path = config.home() / "secrets" / "hash_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".new")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key.decode("utf-8"))
    os.replace(staged, path)
    return str(path)
