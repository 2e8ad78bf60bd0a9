"""Run the dbt project against the warehouse (the command line's path; Airflow uses cosmos)."""

from __future__ import annotations

import getpass
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from minqing import config, warehouse


PROJECT = "minqing"  # the dbt project's name (dbt_project.yml)
SEED_SCHEMA = "reference"  # where the seeds land (dbt_project.yml: seeds +schema)
AS_OF_VARIABLE = "MINQING_AS_OF"  # the run's moment, read by macros/as_of.sql at execution


def dbt_env(url: str | None = None, as_of: str | None = None) -> dict[str, str]:
    """What dbt reads from its environment: the MINQING_PG_* variables of profiles.yml (derived from a
    libpq URL) and the run's as-of moment (MINQING_AS_OF, empty for "the newest run's").

    The moment is not a `--vars` value: dbt re-parses the whole project whenever the vars change, which
    would cost seconds on every daily run (and in every cosmos task); an environment variable read only
    at execution leaves the parsed project as it was (macros/as_of.sql)."""
    params = conninfo_to_dict(url or warehouse.url())
    return {
        AS_OF_VARIABLE: as_of or "",
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
    seeds_reused: bool = False  # build(reuse_seeds=True) found the seeds loaded from the same files

    @property
    def failures(self) -> list[dict]:
        return [r for r in self.results if r["status"] in ("error", "fail", "runtime error")]

    def slowest(self, n: int = 10) -> dict[str, float]:
        """The `n` nodes that took longest (seconds each, dbt's own timing of the node), slowest first."""
        ranked = sorted(self.results, key=lambda r: r.get("seconds", 0.0), reverse=True)[:n]
        return {r["node"].split(".", 2)[-1]: r.get("seconds", 0.0) for r in ranked}


def dbt_arguments(*args: str, target_dir: Path | None = None) -> list[str]:
    """A dbt command's arguments (`args[0]` the subcommand) on the project, its artifacts under
    $MINQING_HOME/dbt."""
    command = [args[0], "--quiet", *args[1:],
        "--project-dir", str(config.dbt_project_dir()),
        "--profiles-dir", str(config.dbt_project_dir()),
        "--target-path", str(target_dir or config.home() / "dbt" / "target"),
        "--log-path", str(config.home() / "dbt" / "logs"),
    ]
    return command


def run_dbt(*args: str, as_of: str | None = None, target_dir: Path | None = None) -> DbtOutcome:
    """Invoke dbt in-process (dbtRunner) on the project, with the warehouse's connection."""
    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(as_of=as_of))
    command = dbt_arguments(*args, target_dir=target_dir)
    outcome = dbtRunner().invoke(command)
    results = []
    if outcome.result is not None and hasattr(outcome.result, "results"):
        for r in outcome.result.results:
            results.append({"node": r.node.unique_id, "status": str(r.status), "message": r.message,
                            "seconds": round(r.execution_time or 0.0, 3)})
    return DbtOutcome(command, bool(outcome.success), results)


# the selector that loads the seeds → the same nodes without loading them (dbt_project/selectors.yml)
SEEDS_LOADED_SELECTORS = {"before_forecast": "before_forecast_seeds_loaded"}


def seeds_fingerprint() -> str:
    """sha256 over the seed files (CSV and yml, by path; the reference folder's by name) and dbt_project.yml
    (where seed column types and schemas are configured): what the seed tables hold when they were loaded
    from these files."""
    project = config.DBT_PROJECT_DIR
    digest = hashlib.sha256()
    files = [(path.relative_to(project).as_posix(), path) for path in sorted((project / "seeds").rglob("*"))]
    files += [(f"reference/{name}.csv", config.seed_path(name)) for name in config.REFERENCE_SEEDS]
    for name, path in [*files, ("dbt_project.yml", project / "dbt_project.yml")]:
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _seeds_loaded(fingerprint: str) -> bool:
    """Whether the warehouse's seed tables exist and were loaded from files with this fingerprint."""
    names = [path.stem for path in config.SEEDS_DIR.glob("*.csv")] + list(config.REFERENCE_SEEDS)
    with warehouse.connect() as conn:
        row = conn.execute("select fingerprint from ops.loaded_seeds where project = %s", (PROJECT,)).fetchone()
        (missing,) = conn.execute(
            f"select count(*) from unnest(%s::text[]) as seed where to_regclass('{SEED_SCHEMA}.' || seed) is null",
            (names,)).fetchone()
    return bool(row) and row[0] == fingerprint and missing == 0


def _record_seeds(fingerprint: str) -> None:
    with warehouse.connect() as conn:
        conn.execute(
            "insert into ops.loaded_seeds (project, fingerprint) values (%s, %s) on conflict (project) do update"
            " set fingerprint = excluded.fingerprint, loaded_at = now()", (PROJECT, fingerprint))


def build(as_of: str | None = None, selector: str | None = None, select: str | None = None, *,
          reuse_seeds: bool = False) -> DbtOutcome:
    """`dbt build`: seeds, models and their tests, in dependency order; all of them, the nodes of a
    selector of dbt_project/selectors.yml, or the `select`ed ones.

    With `reuse_seeds` (the daily run), a selector that loads the seeds skips loading them when the
    seed files are the ones the warehouse last loaded (`ops.loaded_seeds`); a successful build that
    loaded them records their fingerprint."""
    fingerprint = seeds_fingerprint() if selector in SEEDS_LOADED_SELECTORS else None
    reused = bool(reuse_seeds and fingerprint and _seeds_loaded(fingerprint))
    # the outcome comes back as a DbtOutcome: dbt's JSON artifacts (manifest.json, run_results.json,
    # 0.4 s of a street-day's build) are not written; `minqing rebuild` and dbt by hand still write them
    args = ["build", "--no-write-json"]
    if selector:
        args += ["--selector", SEEDS_LOADED_SELECTORS[selector] if reused else selector]
    if select:
        args += ["--select", select]
    outcome = run_dbt(*args, as_of=as_of)
    outcome.seeds_reused = reused
    if outcome.success and fingerprint and not reused and not select:
        _record_seeds(fingerprint)
    return outcome


DOCS_PAGE = "static_index.html"


def docs_dir() -> Path:
    return config.home() / "dbt" / "docs"


def docs() -> Path:
    """`dbt docs generate --static` into $MINQING_HOME/dbt/docs; returns static_index.html, one page with the
    manifest and catalog inside that opens from disk with no network (index.html beside it fetches them, and
    needs `minqing docs serve`)."""
    target = docs_dir()
    outcome = run_dbt("docs", "generate", "--static", target_dir=target)
    if not outcome.success:
        raise RuntimeError("dbt docs generate failed")
    page = target / DOCS_PAGE
    text = page.read_text(encoding="utf-8")
    for broken, fixed in OFFLINE_FIXES:
        text = text.replace(broken, fixed)
    page.write_text(text, encoding="utf-8")
    return page


# dbt's static page, opened from disk: an SVG icon's href is an Angular expression the browser first
# tries to load as a file (two console errors per row of the tree: ng-attr- sets it once Angular has
# evaluated it), and the favicon's href is a webpack expression that was never built (a missing file)
OFFLINE_FIXES = (
    ('xlink:href="{{ getIcon(', 'ng-attr-xlink:href="{{ getIcon('),
    ('<link rel="shortcut icon" href="${require(\'./assets/favicons/favicon.ico\')}"/>', ""),
)
