"""What every published mart promises is stated once, as dbt tests in its yml, and checked on every
build (a failing test fails the build, and nothing downstream of it is published). This file proves
the promises are all there, from dbt's manifest (no database): the GX mart suites that used to repeat
them are gone, so a mart added without them must fail here.

- an enforced contract, so the yml names every column with its type and the rules below see them all;
- a uniqueness test (`unique` or `unique_combination_of_columns`) and `not_null` on each key column
  (a long table's dimensions that a row may leave empty say so with `meta: {nullable_key: true}`);
- every community or category column is checked against its dimension (`relationships`,
  `in_model` or `accepted_values`), except the dimension's own key;
- every rate, share, confidence or probability lies in [0, 1] (`between`).
"""

from __future__ import annotations

import collections
import json
import sys

import pytest

from minqing import config, orchestration

sys.path.insert(0, str(config.DAGS_DIR))  # the DAGs' glue, dags/_minqing
import _minqing as glue  # noqa: E402

CODE_SUFFIXES = ("community_id", "category_code")
SET_TESTS = {"relationships", "in_model", "accepted_values"}
FRACTION_SUFFIXES = ("_rate", "_share", "_confidence", "_probability", "composite_score")


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(orchestration.ensure_manifest().read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tests_by_model(manifest) -> dict[str, list[tuple[str, str | None, dict]]]:
    found = collections.defaultdict(list)
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        parent = node.get("attached_node")
        if parent in manifest["nodes"]:
            meta = node["test_metadata"]
            found[manifest["nodes"][parent]["name"]].append(
                (meta["name"], node.get("column_name"), meta.get("kwargs", {})))
    return found


def published(manifest) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and (n["config"].get("meta") or {}).get("published")}


def test_the_published_marts_are_the_marts_folder(manifest):
    marts = published(manifest)
    assert len(marts) >= 17
    assert all("/marts/" in f"/{n['original_file_path']}" for n in marts.values())
    assert tuple(sorted(marts)) == glue.published_marts()


def test_every_published_mart_enforces_its_contract(manifest):
    loose = [name for name, node in published(manifest).items() if not node["config"]["contract"]["enforced"]]
    assert not loose, loose


def _keys(tests) -> list[list[str]]:
    # `unique_enforced`: a key the database enforces (primary key or unique index), checked in the catalogue
    keys = [[column] for name, column, _ in tests if name in ("unique", "unique_enforced")]
    keys += [kwargs["combination_of_columns"] for name, _, kwargs in tests if name == "unique_combination_of_columns"]
    return keys


def test_every_published_mart_has_a_key_and_its_columns_are_not_null(manifest, tests_by_model):
    missing = {}
    for name, node in published(manifest).items():
        tests = tests_by_model[name]
        keys = _keys(tests)
        if not keys:
            missing[name] = "no uniqueness test"
            continue
        not_null = {column for test, column, _ in tests if test == "not_null"}
        not_null |= {c for c, spec in node["columns"].items()  # a contract's not_null constraint, enforced
                     if any(k.get("type") == "not_null" for k in spec.get("constraints") or [])}
        nullable = {c for c, spec in node["columns"].items() if (spec.get("meta") or {}).get("nullable_key")}
        unchecked = [c for c in keys[0] if c not in not_null | nullable]
        if unchecked:
            missing[name] = f"key columns without not_null: {unchecked}"
    assert not missing, missing


def test_every_community_and_category_column_is_checked_against_its_dimension(manifest, tests_by_model):
    missing = []
    for name, node in published(manifest).items():
        checked = {column for test, column, _ in tests_by_model[name] if test in SET_TESTS}
        own_key = {k for key in _keys(tests_by_model[name]) for k in key} if name.startswith("dim_") else set()
        missing += [f"{name}.{c}" for c in node["columns"]
                    if c.endswith(CODE_SUFFIXES) and c not in checked | own_key]
    assert not missing, missing


def test_every_rate_share_and_probability_lies_between_0_and_1(manifest, tests_by_model):
    missing = []
    for name, node in published(manifest).items():
        bounded = {column: kwargs for test, column, kwargs in tests_by_model[name] if test == "between"}
        for column in node["columns"]:
            if column.endswith(FRACTION_SUFFIXES):
                bounds = bounded.get(column)
                if not bounds or (bounds.get("min_value"), bounds.get("max_value")) != (0, 1):
                    missing.append(f"{name}.{column}")
    assert not missing, missing


def test_no_test_of_a_model_built_after_the_forecast_reads_a_node_built_before(manifest):
    """The selector after_forecast (dbt_project/selectors.yml) takes what reads forecast.forecasts,
    the link stage's tables or the intervention effects;
    a test there that refs a node of the other part would have two parents, and cosmos would run it
    in both task groups — once before its model is rebuilt. `in_model` and `relation_of` avoid that."""
    children, after = manifest["child_map"], set()
    todo = ["source.minqing.forecast.forecasts", "source.minqing.effects.intervention_effects",
            *(s for s in manifest["sources"] if s.startswith("source.minqing.linking."))]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in after:
                after.add(child)
                todo.append(child)
    assert {"model.minqing.mart_sentiment_code", "model.minqing.rpt_early_warnings", "model.minqing.fct_problems",
            "model.minqing.mart_intervention_effects"} <= after
    straddling = [manifest["nodes"][t]["name"] for t in after if t.startswith("test.")
                  and any(p not in after and not p.startswith("source.")
                          for p in manifest["nodes"][t]["depends_on"]["nodes"])]
    assert not straddling, straddling
    assert set(manifest["selectors"]) == {"before_forecast", "after_forecast", "before_forecast_seeds_loaded"}
