"""Integration: the incremental complaint chain (int_complaints__latest, fct_complaints) gives the same
rows as a full rebuild, however the files arrive, and rebuilds what it must when something other
than a new file changes (a reclassified text, a changed setting).

Synthetic landing data (the generator: every channel, work orders updated over several days, a
re-sent hotline file), loaded in two rounds: the first six days, then the rest with the reception
workbooks. Only the chain is built (`+fct_complaints`), with the as-of moment pinned.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import orchestration, pipeline
from minqing.devtools.generate import generate
from minqing.transform import run_dbt

AS_OF = "2026-07-12T24:00:00+08:00"
CHAIN = "+fct_complaints"
TABLES = {"latest": "intermediate.int_complaints__latest", "fct": "marts.fct_complaints"}
# the incremental models of the chain, each with its settings' fingerprint
SETTINGS_KEPT = {*TABLES.values(), "intermediate.int_complaint_versions"}


def _build(*extra: str, settings: dict | None = None) -> None:
    outcome = run_dbt("build", "--select", CHAIN, "--indirect-selection", "cautious", "--vars", json.dumps({"as_of": AS_OF, **(settings or {})}), *extra)
    assert outcome.success, outcome.failures


def _without_built_at(conn, query: str) -> list[tuple]:
    """The rows of `query` without `built_at` (the moment of the build that wrote each)."""
    cursor = conn.execute(query)
    keep = [i for i, column in enumerate(cursor.description) if column.name != "built_at"]
    return [tuple(row[i] for i in keep) for row in cursor.fetchall()]


def _rows(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {name: _without_built_at(conn, f"select * from {table} order by complaint_id")
                for name, table in TABLES.items()}


def _split_landing(tmp_path):
    """The generator's twelve days as two landing folders: days 1-6, then days 7-12 and the workbooks."""
    landing = tmp_path / "all"
    generate(landing, days=12, seed=5, per_day=30)
    first, second = tmp_path / "first", tmp_path / "second"
    for path in landing.rglob("*"):
        if not path.is_file() or path.name.startswith("."):
            continue
        day = re.search(r"_2026(\d{4})", path.name)
        early = path.parent.name != "reception" and day and day.group(1) <= "0706"
        target = (first if early else second) / path.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return first, second


@pytest.fixture()
def loaded_in_two_rounds(fresh_warehouse, tmp_path):
    first, second = _split_landing(tmp_path)
    ingest(first, progress=False)
    pipeline.classify()
    _build()
    with psycopg.connect(fresh_warehouse) as conn:
        kept = conn.execute("select count(*) from marts.fct_complaints").fetchone()[0]
    reports = ingest(second, progress=False)
    assert sum(r.rows_loaded for r in reports) > 0
    pipeline.classify()
    _build()
    return fresh_warehouse, kept


def test_incremental_chain_equals_a_full_rebuild(loaded_in_two_rounds):
    url, first_round = loaded_in_two_rounds
    incremental = _rows(url)
    with psycopg.connect(url) as conn:
        versions = conn.execute("select count(*) from intermediate.int_complaint_versions").fetchone()[0]
        counted = conn.execute("select sum(version_count) from intermediate.int_complaints__latest").fetchone()[0]
        updated = conn.execute("select count(*) from intermediate.int_complaints__latest where version_count > 1"
                               ).fetchone()[0]
    assert 0 < first_round < len(incremental["fct"])
    assert counted == versions  # every version counted once, across the two rounds
    assert updated > 0  # records did get newer versions in the second round

    _build("--full-refresh")
    assert _rows(url) == incremental
    # the indexes its post-hooks add survive the full refresh (the table it replaced held their names)
    with psycopg.connect(url) as conn:
        indexed = {row[0] for row in conn.execute(
            "select (select string_agg(a.attname, ',' order by k.ord) from unnest(i.indkey::int2[]) "
            "with ordinality k (attnum, ord) join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum) "
            "from pg_index i where i.indrelid = 'marts.fct_complaints'::regclass")}
    assert {"complaint_id", "dispatched_at", "address_key,category_code,received_at",
            "community_id,category_code,received_at", "community_id,category_code"} <= indexed, indexed


def test_an_incremental_mart_holds_the_not_null_its_contract_declares(loaded_in_two_rounds):
    """A contract's not_null is the table's NOT NULL (no not_null test repeats it): a table created before
    a column was declared not_null gains it at the next incremental build (macros/incremental.sql
    ensure_not_null), and a null then fails the build instead of reaching the mart."""
    url, _ = loaded_in_two_rounds
    node = json.loads(orchestration.ensure_manifest().read_text(encoding="utf-8"))["nodes"]["model.minqing.fct_complaints"]
    declared = {name for name, column in node["columns"].items()
                if any(c["type"] == "not_null" for c in column["constraints"])}
    assert {"complaint_id", "community_id", "category_code"} <= declared

    def not_null_columns() -> set[str]:
        with psycopg.connect(url) as conn:
            return {name for (name,) in conn.execute(
                "select attname from pg_attribute where attrelid = 'marts.fct_complaints'::regclass "
                "and attnum > 0 and not attisdropped and attnotnull")}

    assert declared <= not_null_columns()
    with psycopg.connect(url) as conn:  # as an older build left it
        conn.execute("alter table marts.fct_complaints alter column community_id drop not null")
    assert "community_id" not in not_null_columns()
    _build()
    assert declared <= not_null_columns()


def test_a_reclassified_text_reaches_fct_complaints(loaded_in_two_rounds):
    url, _ = loaded_in_two_rounds
    with psycopg.connect(url) as conn:
        complaint_id, text_sha256 = conn.execute(
            "select complaint_id, text_sha256 from marts.fct_complaints where category_code <> 'noise' "
            "order by complaint_id limit 1").fetchone()
        conn.execute("update ops.text_classifications set category_code = 'noise', classified_at = now() "
                     "where text_sha256 = %s", (text_sha256,))
    _build()
    with psycopg.connect(url) as conn:
        category = conn.execute("select category_code from marts.fct_complaints where complaint_id = %s",
                                (complaint_id,)).fetchone()[0]
    assert category == "noise"


def test_a_changed_setting_rebuilds_every_row(loaded_in_two_rounds):
    url, _ = loaded_in_two_rounds
    with psycopg.connect(url) as conn:
        before = dict(conn.execute("select relation, fingerprint from ops.incremental_settings").fetchall())
    assert set(before) == SETTINGS_KEPT

    # ratings of 3 no longer count as resolved: every mini-program version is read again
    _build(settings={"rating_resolved_min": 4})
    changed = _rows(url)
    with psycopg.connect(url) as conn:
        after = dict(conn.execute("select relation, fingerprint from ops.incremental_settings").fetchall())
    assert all(after[t] != before[t] for t in SETTINGS_KEPT)

    _build("--full-refresh", settings={"rating_resolved_min": 4})
    assert _rows(url) == changed


def test_status_events_read_each_file_once(loaded_in_two_rounds, tmp_path):
    """A file that brings no new event (a hotline export sent again, one byte changed) still counts as
    read: the next build reads nothing. Events keep the first file that had them, so the table's own
    newest file lagged behind such a file, and every later build read its records again (issue 17)."""
    url, _ = loaded_in_two_rounds
    events = "+fct_complaint_status_events"
    _build_selected = lambda: run_dbt("build", "--select", events, "--indirect-selection", "cautious",
                                      "--vars", json.dumps({"as_of": AS_OF}))
    assert _build_selected().success
    with psycopg.connect(url) as conn:
        path, = conn.execute("select path from ops.ingested_files where channel = 'hotline' and status = 'loaded' "
                             "order by file_id desc limit 1").fetchone()
        before = _without_built_at(conn, "select * from marts.fct_complaint_status_events order by event_id")
    again = tmp_path / "again" / "hotline" / Path(path).name.replace(".csv", "_again.csv")
    again.parent.mkdir(parents=True)
    again.write_bytes((tmp_path / "second" / path).read_bytes() + b"\r\n")  # the path under its landing
    report, = ingest(again.parent.parent, progress=False)
    assert report.status == "loaded" and report.rows_loaded > 0, report

    outcome = _build_selected()
    assert outcome.success, outcome.failures
    with psycopg.connect(url) as conn:
        read_through, = conn.execute("select max_file_id from ops.file_watermarks "
                                     "where name = 'dbt:marts.fct_complaint_status_events'").fetchone()
        after = _without_built_at(conn, "select * from marts.fct_complaint_status_events order by event_id")
    assert read_through == report.file_id
    assert after == before  # the same versions again: no new event, each kept from its first file

    outcome = _build_selected()  # nothing new: the events' build reads and writes nothing
    written = [r["message"] for r in outcome.results if r["node"].endswith(".fct_complaint_status_events")]
    assert written == ["INSERT 0 0"], written


def test_classification_reads_new_files_only_and_the_pool_agrees_with_one_process(fresh_warehouse, tmp_path,
                                                                                   monkeypatch):
    from minqing import warehouse
    from minqing.analytics import classifier

    first, second = _split_landing(tmp_path)
    ingest(first, progress=False)
    # small rounds go to a pool of two processes too
    monkeypatch.setattr(classifier, "COPY_BATCH", 7)
    monkeypatch.setattr(classifier, "PARALLEL_MIN", 14)
    with warehouse.connect() as conn:
        pooled = classifier.classify_pending(conn, workers=2)
        conn.commit()
        again = classifier.classify_pending(conn, workers=2)  # nothing new: no file read again
        conn.commit()
    assert pooled > 14 and again == 0

    ingest(second, progress=False)
    with warehouse.connect() as conn:
        newest = warehouse.newest_file_id(conn)
        second_round = classifier.classify_pending(conn, workers=2)
        conn.commit()
        stored = dict(conn.execute("select text_sha256, category_code || ' ' || confidence || ' ' || "
                                   "array_to_string(evidence, ',') from ops.text_classifications").fetchall())
        # every text of every file, as if none were classified (no classification has this version)
        texts = conn.execute(classifier._PENDING_SQL, {"version": "none", "after": 0, "upto": newest}).fetchall()
        watermark = warehouse.file_watermark(conn, f"classifier:{classifier.classifier_version()}")
    assert second_round > 0 and watermark == newest
    assert len(stored) == pooled + second_round == len(texts)  # every text once, none missed
    for text_sha256, text in texts:  # the pool's results are the one-process results
        result = classifier.classify(text)
        assert stored[text_sha256] == f"{result.category_code} {result.confidence:.3f} {','.join(result.evidence)}"
