"""The reference folder: the street-specific seeds a warehouse serves its streets by (issue 23).

A street's own install uses the package's folder (`dbt_project/reference`: 六里桥街道). A district keeps its
own — its streets, communities, their spellings, expected deliveries and interventions — and points
MINQING_REFERENCE_DIR at it (config.reference_dir); dbt loads it as the project's second seed path. `init`
starts one from the package's files; `check` reads one as dbt would load it and names what would fail,
before a run does.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

from minqing import config

# (seed, column) -> (seed, column) it must name a row of; empty values and ';'-separated lists are read
REFERENCES = {
    ("communities", "street_id"): ("streets", "street_id"),
    ("street_aliases", "street_id"): ("streets", "street_id"),
    ("community_aliases", "community_id"): ("communities", "community_id"),
    ("community_project_codes", "community_id"): ("communities", "community_id"),
    ("expected_deliveries", "community_id"): ("communities", "community_id"),
    ("expected_deliveries", "street_id"): ("streets", "street_id"),
    ("interventions", "community_ids"): ("communities", "community_id"),
}
KEYS = {"streets": "street_id", "communities": "community_id", "street_aliases": "alias",
        "community_aliases": "alias", "community_project_codes": "project_code",
        "expected_deliveries": "delivery_id", "interventions": "intervention_id"}


class BrokenReference(RuntimeError):
    """A reference folder dbt could not load as it is (its lines: `check`)."""


def init(destination: Path, force: bool = False) -> list[Path]:
    """Copy the package's reference files into `destination` (made if missing) to edit: the files written.
    FileExistsError when it already holds any of them, unless `force` (then they are overwritten)."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    present = [n for n in config.REFERENCE_SEEDS if (destination / f"{n}.csv").exists()]
    if present and not force:
        raise FileExistsError(f"{destination} already holds {', '.join(n + '.csv' for n in present)} "
                              "(--force to overwrite them with the package's)")
    written = []
    for name in config.REFERENCE_SEEDS:
        target = destination / f"{name}.csv"
        shutil.copyfile(config.PACKAGED_REFERENCE_DIR / f"{name}.csv", target)
        written.append(target)
    return written


def _read(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def check(folder: Path | None = None) -> list[str]:
    """What is wrong with a reference folder (default: the one in force), one line each; empty when
    nothing is: a file missing, a column missing or unknown (against the package's files), a key
    repeated or empty, an id that names no street or community."""
    folder = Path(folder) if folder is not None else config.reference_dir()
    problems: list[str] = []
    tables: dict[str, list[dict]] = {}
    for name in config.REFERENCE_SEEDS:
        path = folder / f"{name}.csv"
        if not path.is_file():
            problems.append(f"{name}.csv: missing")
            continue
        columns, rows = _read(path)
        expected, _ = _read(config.PACKAGED_REFERENCE_DIR / f"{name}.csv")
        if lacking := [c for c in expected if c not in columns]:
            problems.append(f"{name}.csv: lacks the column(s) {', '.join(lacking)}")
        if unknown := [c for c in columns if c not in expected]:
            problems.append(f"{name}.csv: unknown column(s) {', '.join(unknown)} (the package's: {', '.join(expected)})")
        key = KEYS[name]
        counts = Counter((row.get(key) or "").strip() for row in rows)
        if counts.get(""):
            problems.append(f"{name}.csv: {counts['']} row(s) without {key}")
        if repeated := sorted(k for k, n in counts.items() if k and n > 1):
            problems.append(f"{name}.csv: {key} repeated: {', '.join(repeated)}")
        tables[name] = rows
    for (name, column), (target, target_column) in REFERENCES.items():
        if name not in tables or target not in tables:
            continue
        known = {(row.get(target_column) or "").strip() for row in tables[target]}
        named = {value.strip() for row in tables[name] for value in (row.get(column) or "").split(";")}
        if unknown := sorted(v for v in named if v and v not in known):
            problems.append(f"{name}.csv: {column} names no row of {target}.csv: {', '.join(unknown)}")
    return problems


def require() -> Path:
    """The reference folder in force, checked: BrokenReference naming every problem when it has any."""
    folder = config.reference_dir()
    if problems := check(folder):
        raise BrokenReference(f"the reference folder {folder} cannot be loaded:\n  " + "\n  ".join(problems))
    return folder
