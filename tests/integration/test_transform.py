"""The daily dbt build against a real warehouse: the seeds are loaded when their files are new to
the warehouse, and only then (minqing.transform.build(reuse_seeds=True), ops.loaded_seeds)."""

from __future__ import annotations

import shutil

import psycopg

from minqing import config, transform

AS_OF = "2026-07-17T00:00:00+08:00"


def _seed_nodes(outcome) -> list[str]:
    return [r["node"] for r in outcome.results if r["node"].startswith("seed.")]


def test_the_daily_build_loads_the_seeds_only_when_their_files_changed(fresh_warehouse, tmp_path, monkeypatch):
    project = tmp_path / "dbt_project"
    shutil.copytree(config.DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(config, "DBT_PROJECT_DIR", project)
    seed_count = len(list((project / "seeds").glob("*.csv"))) + len(config.REFERENCE_SEEDS)

    def daily():
        outcome = transform.build(as_of=AS_OF, selector="before_forecast", reuse_seeds=True)
        assert outcome.success, outcome.failures
        return outcome

    first = daily()  # a new warehouse: every seed is loaded, and the files' fingerprint recorded
    assert (first.seeds_reused, len(_seed_nodes(first))) == (False, seed_count)
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select fingerprint from ops.loaded_seeds").fetchall() == [(transform.seeds_fingerprint(),)]

    again = daily()  # the same files: no seed is loaded, every model and its tests still run
    assert (again.seeds_reused, _seed_nodes(again)) == (True, [])
    built = {r["node"] for r in again.results}
    assert {"model.minqing.fct_complaints", "model.minqing.mart_three_rates"} <= built

    # an edited seed yml (a description is enough) changes the fingerprint: all seeds load again
    yml = project / "seeds" / "_seeds.yml"
    yml.write_text(yml.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = daily()
    assert (edited.seeds_reused, len(_seed_nodes(edited))) == (False, seed_count)

    # a seed table gone from the warehouse is loaded again although the files are the same
    with psycopg.connect(fresh_warehouse) as conn:
        conn.execute("drop table reference.rate_settings cascade")
        conn.commit()
    restored = daily()
    assert (restored.seeds_reused, len(_seed_nodes(restored))) == (False, seed_count)
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(*) from reference.rate_settings").fetchone()[0] > 0
