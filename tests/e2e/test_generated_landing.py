"""Integration: a generated landing folder goes through ingestion, GX validation and dbt with every
row accounted for and one mart row per distinct resident demand."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from ingestion.loader import ingest
from minqing.devtools.generate import generate


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated") / "landing"
    manifest = generate(out, days=21, seed=11, per_day=30, start=dt.date(2026, 7, 10))
    return out, manifest


def test_ingest_matches_the_manifest_file_by_file(fresh_warehouse, landing):
    out, manifest = landing
    reports = {r.file: r for r in ingest(out, progress=False)}
    assert set(reports) == set(manifest["files"])
    for name, expected in manifest["files"].items():
        got = reports[name]
        if expected["duplicate_of"]:
            assert (got.status, got.duplicate_of) == ("duplicate", expected["duplicate_of"]), name
            continue
        assert got.rows_in == expected["records"], name
        assert got.rows_quarantined == expected["bad"], name
        assert got.rows_loaded == expected["records"] - expected["bad"], name

    again = ingest(out, progress=False)
    assert {r.status for r in again} == {"duplicate"}


@pytest.mark.slow
def test_pipeline_run_gives_one_fact_per_distinct_demand(fresh_warehouse, landing):
    from minqing.pipeline import run

    out, manifest = landing
    summary = run(out)
    assert not summary.failed_channels
    distinct = manifest["distinct"]
    with psycopg.connect(fresh_warehouse) as conn:
        count = dict(conn.execute("select source_channel, count(*) from marts.fct_complaints group by 1").fetchall())
        unclassified = conn.execute("select count(*) from marts.fct_complaints where category_confidence = 0 "
                                    "and category_evidence = '{}'").fetchone()[0]
        unresolved = conn.execute("select count(*) from marts.fct_complaints where community_id = 'unresolved'"
                                  ).fetchone()[0]
        files_ok = conn.execute("select bool_and(rows_in = rows_loaded + rows_quarantined) from ops.ingested_files"
                                ).fetchone()[0]
    assert count.get("hotline_12345", 0) + count.get("hotline_400", 0) == distinct["work_orders"]
    assert count.get("miniprogram", 0) == distinct["demand_tickets"]
    assert count.get("reception", 0) == distinct["reception_entries"]
    assert sum(count.values()) == distinct["resident_demands"]
    assert unresolved == 0
    assert files_ok
    assert unclassified < 0.2 * sum(count.values())
