"""One settings reader: `minqing.config` is the only production module that reads the environment,
every variable it reads is a row of `config.ENVIRONMENT`, and the README's table is that list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from minqing import config

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [p for folder in ("minqing", "ingestion", "quality", "dags") for p in (ROOT / folder).rglob("*.py")
              if "devtools" not in p.parts]
# Still written, to hand a value to code that reads only the environment: dbt's profiles.yml
# (env_var) and GX's datasource string.
WRITES_ALLOWED = {"minqing/transform.py", "quality/context.py"}


def _environ_uses(path: Path) -> tuple[list[int], list[int]]:
    """(lines that read os.environ or os.getenv, lines that change os.environ)."""
    reads, writes = [], []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getenv":
            reads.append(node.lineno)
        if not (isinstance(node, ast.Attribute) and node.attr == "environ"):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Dict):  # {**os.environ, ...}: the environment handed on to a child process
            continue
        if isinstance(parent, ast.Subscript):
            (writes if isinstance(parent.ctx, (ast.Store, ast.Del)) else reads).append(node.lineno)
        elif isinstance(parent, ast.Attribute) and parent.attr in ("update", "setdefault", "pop"):
            writes.append(node.lineno)
        else:
            reads.append(node.lineno)
    return reads, writes


def test_only_config_reads_the_environment():
    readers = {}
    for path in PRODUCTION:
        relative = path.relative_to(ROOT).as_posix()
        reads, writes = _environ_uses(path)
        if reads and relative != "minqing/config.py":
            readers[relative] = reads
        if writes and relative not in WRITES_ALLOWED:
            readers[relative] = writes
    assert not readers, readers


def test_every_variable_read_is_a_documented_setting():
    names = {v.name for v in config.ENVIRONMENT}
    used = set()
    for path in PRODUCTION:
        used |= set(re.findall(r"config\.env\(\s*\"([A-Z_]+)\"", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r"(?<![.\w])env\(\s*\"([A-Z_]+)\"", path.read_text(encoding="utf-8")))
    assert used <= names, used - names
    profiles = (config.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    read_by_dbt = set(re.findall(r"env_var\('(MINQING_[A-Z_]+)'", profiles)) - {
        n for n in re.findall(r"env_var\('(MINQING_PG_[A-Z_]+)'", profiles)}  # set by transform.dbt_env
    assert read_by_dbt <= names


def test_the_readme_settings_table_is_config_environment():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    stated = [tuple(cell.strip() for cell in row.strip("|").split(" | ")) for row in rows]
    assert stated == [(f"`{v.name}`", v.default, v.meaning) for v in config.ENVIRONMENT]


def test_python_and_dbt_count_days_in_the_same_time_zone():
    import yaml

    project = yaml.safe_load((config.DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["time_zone"] == config.BEIJING.key
    for sql in (config.DBT_PROJECT_DIR / "models").rglob("*.sql"):  # SQL names the zone only through the var
        assert config.BEIJING.key not in sql.read_text(encoding="utf-8"), sql.name


def test_dbt_threads_default_is_the_profiles_default():
    profiles = (config.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    assert f"env_var('MINQING_DBT_THREADS', '{config.DBT_THREADS_DEFAULT}')" in profiles
