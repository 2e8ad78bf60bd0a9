"""The dbt project's layers, from its manifest: sources are read only in staging, each layer's models
are named for it, and a layer reads only the layers below it."""

from __future__ import annotations

import json

import pytest

from minqing import orchestration

LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_", "mart_", "rpt_")}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(orchestration.ensure_manifest().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def layer(node: dict) -> str:
    return node["original_file_path"].split("/")[1]


def test_every_model_sits_in_a_layer_and_is_named_for_it(models):
    for node in models.values():
        assert layer(node) in LAYERS, node["original_file_path"]
        assert node["name"].startswith(PREFIXES[layer(node)]), node["name"]
        if layer(node) == "staging":  # stg_<source system>__<entity>, in the source system's folder
            system = node["original_file_path"].split("/")[2]
            assert node["name"].startswith(f"stg_{system}__"), node["name"]


def test_sources_are_read_only_in_staging(manifest, models):
    """Data comes in through staging. The run's own state (the as-of moment, the settings an
    incremental model was built with: sources with `meta: {run_state: true}`) is read by macros."""
    run_state = {uid for uid, s in manifest["sources"].items() if (s.get("meta") or {}).get("run_state")}
    assert {uid.rsplit(".", 1)[1] for uid in run_state} == {
        "file_decisions", "pipeline_runs", "hash_key", "incremental_settings",  # the as-of moment, settings
        "file_watermarks",  # the files an incremental model has read
        "complaint_day_changes", "aggregate_watermarks", "aggregate_scope",  # the daily aggregates' scope
        "complaint_grade_scope", "complaint_grade_bases",  # the complaint grades' scope
        "problem_changes", "problem_scope"}  # the problem marts' scope
    readers = [(n["name"], d) for n in models.values() if layer(n) != "staging"
               for d in n["depends_on"]["nodes"] if d.startswith("source.") and d not in run_state]
    assert not readers, readers


def test_a_layer_reads_only_the_layers_below_it_or_its_own(models):
    upward = [(n["name"], models[d]["name"]) for n in models.values() for d in n["depends_on"]["nodes"]
              if d in models and LAYERS[layer(models[d])] > LAYERS[layer(n)]]
    assert not upward, upward
