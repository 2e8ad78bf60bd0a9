"""Run the dbt project against the warehouse (the command line's path; Airflow uses cosmos)."""

from __future__ import annotations

import json
import getpass
import os
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from minqing import config, warehouse


def dbt_env(url: str | None = None) -> dict[str, str]:
    """The MINQING_PG_* variables profiles.yml reads, derived from a libpq URL."""
    params = conninfo_to_dict(url or warehouse.url())
    return {
        "MINQING_PG_HOST": params.get("host") or "localhost",
        "MINQING_PG_PORT": str(params.get("port") or 5432),
        "MINQING_PG_USER": params.get("user") or getpass.getuser(),
        "MINQING_PG_PASSWORD": params.get("password") or "",
        "MINQING_PG_DBNAME": params.get("dbname") or "postgres",
    }


@dataclass
class DbtOutcome:
    command: list[str]
    success: bool
    results: list[dict]

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.results if r["status"] in ("error", "fail", "runtime error")]


def dbt_arguments(*args: str, as_of: str | None = None, target_dir: Path | None = None) -> list[str]:
    """A dbt command's arguments (`args[0]` the subcommand) on the project, its artifacts under
    $MINQING_HOME/dbt."""
    command = [args[0], "--quiet", *args[1:],
        "--project-dir", str(config.DBT_PROJECT_DIR),
        "--profiles-dir", str(config.DBT_PROJECT_DIR),
        "--target-path", str(target_dir or config.home() / "dbt" / "target"),
        "--log-path", str(config.home() / "dbt" / "logs"),
    ]
    if as_of:
        command += ["--vars", json.dumps({"as_of": as_of})]
    return command


def run_dbt(*args: str, as_of: str | None = None, target_dir: Path | None = None) -> DbtOutcome:
    """Invoke dbt in-process (dbtRunner) on the project, with the warehouse's connection."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env())
    command = dbt_arguments(*args, as_of=as_of, target_dir=target_dir)
    outcome = dbtRunner().invoke(command)
    results = []
    if outcome.result is not None and hasattr(outcome.result, "results"):
        for r in outcome.result.results:
            results.append({"node": r.node.unique_id, "status": str(r.status), "message": r.message})
    return DbtOutcome(command, bool(outcome.success), results)


def build(as_of: str | None = None, selector: str | None = None, select: str | None = None) -> DbtOutcome:
    """`dbt build`: seeds, models and their tests, in dependency order; all of them, the nodes of a
    selector of dbt_project/selectors.yml, or the `select`ed ones."""
    args = ["build"]
    if selector:
        args += ["--selector", selector]
    if select:
        args += ["--select", select]
    return run_dbt(*args, as_of=as_of)


def docs() -> Path:
    """`dbt docs generate` into $MINQING_HOME/dbt/docs; returns the index.html to open."""
    target = config.home() / "dbt" / "docs"
    outcome = run_dbt("docs", "generate", target_dir=target)
    if not outcome.success:
        raise RuntimeError("dbt docs generate failed")
    return target / "index.html"
