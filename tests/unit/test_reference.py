"""The reference folder (minqing/reference.py, config.reference_dir): a district's copy of the street-specific
seeds, started from the package's and checked before a run loads it (issue 23)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from minqing import config, reference


def _rewrite(path: Path, edit) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = edit(rows)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_the_packages_folder_is_in_force_and_sound(monkeypatch):
    monkeypatch.delenv("MINQING_REFERENCE_DIR", raising=False)
    assert config.reference_dir() == config.PACKAGED_REFERENCE_DIR
    assert config.dbt_project_dir() == config.DBT_PROJECT_DIR
    assert config.seed_path("communities") == config.PACKAGED_REFERENCE_DIR / "communities.csv"
    assert config.seed_path("issue_categories") == config.SEEDS_DIR / "issue_categories.csv"
    assert reference.check() == []


def test_init_copies_the_packages_files_and_keeps_a_districts_edits(tmp_path):
    written = reference.init(tmp_path / "district")
    assert sorted(p.name for p in written) == sorted(f"{n}.csv" for n in config.REFERENCE_SEEDS)
    assert reference.check(tmp_path / "district") == []
    with pytest.raises(FileExistsError, match="--force"):
        reference.init(tmp_path / "district")


def test_check_names_every_problem_a_load_would_meet(tmp_path):
    folder = tmp_path / "district"
    reference.init(folder)
    (folder / "interventions.csv").unlink()
    _rewrite(folder / "communities.csv", lambda rows: [*rows, ["wangyuan", "nowhere", "望园社区", "older_estate",
                                                               "weak", "false", ""]])
    _rewrite(folder / "street_aliases.csv", lambda rows: [[*rows[0], "note"], *rows[1:]])
    _rewrite(folder / "community_aliases.csv", lambda rows: [*rows, ["某社区", "moushequ"]])
    problems = reference.check(folder)
    assert "interventions.csv: missing" in problems
    assert "communities.csv: community_id repeated: wangyuan" in problems
    assert "communities.csv: street_id names no row of streets.csv: nowhere" in problems
    assert any(p.startswith("street_aliases.csv: unknown column(s) note") for p in problems)
    assert "community_aliases.csv: community_id names no row of communities.csv: moushequ" in problems


def test_a_district_folder_is_run_through_a_project_of_links(tmp_path, monkeypatch):
    """dbt would write its SQL over a seed read from outside its project: the district's folder is linked
    into a project of links under MINQING_HOME, every other entry linking to the package's."""
    folder = tmp_path / "district"
    reference.init(folder)
    monkeypatch.setenv("MINQING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINQING_REFERENCE_DIR", str(folder))
    project = config.dbt_project_dir()
    assert project == (tmp_path / "home").resolve() / "dbt" / "project"
    assert (project / "reference").resolve() == folder.resolve()
    assert (project / "models").resolve() == (config.DBT_PROJECT_DIR / "models").resolve()
    assert not (project / "target").is_symlink()
    assert config.seed_path("streets") == folder.resolve() / "streets.csv"
    assert config.dbt_project_dir() == project  # again: the links are kept


def test_a_folder_lacking_a_file_is_refused_with_its_names(tmp_path, monkeypatch):
    monkeypatch.setenv("MINQING_REFERENCE_DIR", str(tmp_path))
    (tmp_path / "streets.csv").write_text("street_id\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="lacks street_aliases.csv, communities.csv"):
        config.reference_dir()
