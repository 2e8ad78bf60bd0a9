"""Rotating the hashing key of personal data: every stored key is recomputed from the clear value
in raw, the grouping of people is unchanged (so repeat-complainant counts stay whole), data loaded
after the rotation with the new key joins the same people, and the old key is refused."""

from __future__ import annotations

import psycopg
import pytest

from ingestion.contracts import CONTRACTS
from ingestion.loader import ingest
from minqing import cli, privacy

from conftest import FIXTURES

KEYED = {c.table: c.person.column for c in CONTRACTS.values()}


def _keys(url: str) -> dict[str, list[tuple]]:
    """Per table, (row id, stored key) in primary-key order (a reception row is file, sheet and row)."""
    with psycopg.connect(url) as conn:
        return {table: [(tuple(r[:-1]), r[-1]) for r in conn.execute(
                    f"select {', '.join(pk)}, {column} from {table} order by {', '.join(pk)}")]
                for table, pk, column in ((c.table, c.key_columns, c.person.column) for c in CONTRACTS.values())}


def _partition(rows: list[tuple]) -> set[frozenset]:
    groups: dict[str, set] = {}
    for row_id, key in rows:
        if key is not None:
            groups.setdefault(key, set()).add(row_id)
    return {frozenset(g) for g in groups.values()}


def test_rotation_rehashes_raw_and_keeps_every_person_whole(fresh_warehouse, monkeypatch, capsys):
    ingest(FIXTURES / "contract_landing", progress=False)
    before = _keys(fresh_warehouse)
    assert sum(1 for rows in before.values() for r in rows if r[1]) > 5

    monkeypatch.setenv("NEW_TEST_KEY", "a-new-key-of-enough-length-0001")
    assert cli.main(["rotate-hash-key", "--new-key-env", "NEW_TEST_KEY"]) == 0
    after = _keys(fresh_warehouse)
    for table in KEYED:
        old, new = before[table], after[table]
        assert [r[0] for r in old] == [r[0] for r in new]
        assert all((o[1] is None) == (n[1] is None) for o, n in zip(old, new))
        assert all(o[1] != n[1] for o, n in zip(old, new) if o[1])  # every key changed
        assert _partition(old) == _partition(new), table  # the same people, the same groups
    assert "keys recomputed" in capsys.readouterr().out

    # the new key computes exactly the stored keys: data loaded from now on joins the same people
    new_key = b"a-new-key-of-enough-length-0001"
    with psycopg.connect(fresh_warehouse) as conn:
        phone, key = conn.execute("select complainant_phone, complainant_key from raw.hotline_work_orders "
                                  "where complainant_key is not null limit 1").fetchone()
        assert privacy.phone_key(phone, new_key) == key
        assert conn.execute("select fingerprint from ops.hash_key").fetchone()[0] == privacy.key_fingerprint(new_key)


def test_a_different_key_is_refused_by_the_warehouse(fresh_warehouse, monkeypatch):
    ingest(FIXTURES / "contract_landing", progress=False)
    monkeypatch.setenv("MINQING_HASH_KEY", "someone-elses-key-0000000000")
    privacy._key.cache_clear()
    try:
        with psycopg.connect(fresh_warehouse) as conn, pytest.raises(privacy.HashKeyMismatch, match="rotate-hash-key"):
            privacy.check(conn)
    finally:
        privacy._key.cache_clear()


def test_a_short_or_missing_new_key_is_refused(fresh_warehouse, monkeypatch, capsys):
    monkeypatch.setenv("SHORT_KEY", "short")
    assert cli.main(["rotate-hash-key", "--new-key-env", "SHORT_KEY"]) == 2
    assert cli.main(["rotate-hash-key", "--new-key-env", "UNSET_KEY_VARIABLE"]) == 2
    assert "UNSET_KEY_VARIABLE" in capsys.readouterr().err


def test_ingest_with_another_key_loads_nothing(fresh_warehouse, monkeypatch, tmp_path):
    ingest(FIXTURES / "contract_landing", progress=False)
    with psycopg.connect(fresh_warehouse) as conn:
        files_before = conn.execute("select count(*) from ops.ingested_files").fetchone()[0]
    landing = tmp_path / "landing" / "hotline"
    landing.mkdir(parents=True)
    # new content (one more byte), so that it is not a duplicate and would be loaded under the wrong key
    source = FIXTURES / "contract_landing" / "hotline" / "12345_20260716.csv"
    (landing / "12345_20260717.csv").write_bytes(source.read_bytes() + b"\n")
    monkeypatch.setenv("MINQING_HASH_KEY", "someone-elses-key-0000000000")
    privacy._key.cache_clear()
    try:
        with pytest.raises(privacy.HashKeyMismatch):
            ingest(tmp_path / "landing", progress=False)
    finally:
        privacy._key.cache_clear()
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(*) from ops.ingested_files").fetchone()[0] == files_before
