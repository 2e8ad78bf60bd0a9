"""The packages are layered and imports only go down: base → contracts → stages → pipeline → CLI.
Development tools are a package of their own that no production module imports (the CLI's dev
commands reach them lazily); no two stage packages import each other both ways. Read from the
source with `ast` (imports inside functions count too): no database, no imports run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("minqing", "ingestion", "quality")

# Most specific prefix first; the number is the layer.
LAYERS = [
    ("minqing.devtools", 5),
    ("minqing.cli", 4),
    ("minqing.orchestration", 3),
    ("minqing.pipeline", 3),
    ("minqing.run_alerts", 3),  # what a daily run's alert says, from the pipeline's records
    ("minqing.airflow_stack", 3),  # a real local Airflow (`minqing airflow up`, the scheduler tests)
    ("ingestion.contracts", 1),
    ("minqing.analytics", 2),
    ("minqing.publishing", 2),
    ("minqing.transform", 2),
    ("ingestion", 2),
    ("quality", 2),
    ("minqing", 0),  # config, warehouse, privacy, migrations
]
STAGES = ("ingestion", "quality", "minqing.analytics", "minqing.publishing", "minqing.transform")


def _layer(module: str) -> int:
    return next(rank for prefix, rank in LAYERS if module == prefix or module.startswith(prefix + "."))


def _stage(module: str) -> str | None:
    if module.startswith("ingestion.contracts"):
        return None
    return next((s for s in STAGES if module == s or module.startswith(s + ".")), None)


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(module: str, path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            # `from minqing import config` names the module minqing.config; `from minqing.x import f` names minqing.x
            known = max((m for m in MODULES if name == m or name.startswith(m + ".")), key=len, default=None)
            if known and known != module:
                yield known, node.lineno


MODULES = {m: p for m, p in _modules()}


def test_imports_only_go_down_and_devtools_stay_out_of_production():
    upward = []
    for module, path in MODULES.items():
        for imported, line in _imports(module, path):
            if module.startswith("minqing.cli") and imported.startswith("minqing.devtools"):
                continue  # the CLI's dev commands, imported inside their handlers
            if _layer(imported) > _layer(module):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert not upward, "\n".join(upward)


def test_no_two_stages_import_each_other():
    edges = {(s, t) for module, path in MODULES.items() for imported, _ in _imports(module, path)
             if (s := _stage(module)) and (t := _stage(imported)) and s != t}
    both_ways = sorted((a, b) for a, b in edges if (b, a) in edges and a < b)
    assert not both_ways, both_ways
