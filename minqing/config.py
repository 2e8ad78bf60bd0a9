"""Settings: the only reader of the environment and of `settings.yml`.

Every environment variable the project reads is a row of `ENVIRONMENT` (its default and meaning),
read through `env()`; the README's table under "Settings" is checked against it
(tests/unit/test_settings.py), as is the rule that no other production module reads `os.environ`.
Variables whose *name* the user gives (a password for `minqing access password --password-env`,
the new key of `rotate-hash-key --new-key-env`) are read through `secret_from()`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

BEIJING = ZoneInfo("Asia/Shanghai")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _project_folder(folder: str) -> Path:
    """A top-level folder of the project (dbt_project/, dags/): beside the package in a checkout or an
    editable install, else the copy `pip install .` put inside the package (pyproject.toml)."""
    beside = PROJECT_ROOT / folder
    if beside.is_dir():
        return beside
    return Path(__file__).resolve().parent / folder


DBT_PROJECT_DIR = _project_folder("dbt_project")
DAGS_DIR = _project_folder("dags")
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
# The reference data of the streets a warehouse serves — its streets, communities, their spellings, its
# expected deliveries and interventions — is a folder of its own: the package's (六里桥街道) unless
# MINQING_REFERENCE_DIR names a district's copy (`minqing reference init`). dbt loads it as a second seed
# path (dbt_project.yml); the other seeds (categories, keywords, time limits, the city's rules) are the same
# for every street and stay in SEEDS_DIR.
PACKAGED_REFERENCE_DIR = DBT_PROJECT_DIR / "reference"
REFERENCE_SEEDS = ("streets", "street_aliases", "communities", "community_aliases", "community_project_codes",
                   "expected_deliveries", "interventions")


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


ENVIRONMENT = (
    Variable("MINQING_HOME", "`./.minqing`",
             "the project's state: embedded warehouse (`warehouse/`), secrets, GX and dbt artifacts"),
    Variable("WAREHOUSE_URL", "unset: the embedded server",
             "a libpq URL of another PostgreSQL to use instead; the same migrations and SQL run on it"),
    Variable("OPEN311_DATABASE_URL", "unset: WAREHOUSE_URL (or the embedded server)",
             "the login `minqing serve` reads the marts with (granted the role `open311_reader`); the server "
             "sets that role on every connection whichever login it is"),
    Variable("LANDING_DIR", "`data/landing`", "the landing folder (`hotline/`, `miniprogram/`, `reception/`)"),
    Variable("BRIEFING_DIR", "`$MINQING_HOME/briefings`", "where the briefing DAG writes the daily briefing (a warehouse "
             "of several streets: each street's in `BRIEFING_DIR/<street_id>/`)"),
    Variable("MINQING_HASH_KEY", "a random key created once in `$MINQING_HOME/secrets/hash_key` (mode 0600)",
             "the HMAC key that pseudonymises phones and openids"),
    Variable("MINQING_REFERENCE_DIR", "the package's `dbt_project/reference` (六里桥街道)",
             "a district's reference folder: its streets, communities, their spellings, expected deliveries and "
             "interventions, one CSV each (`minqing reference init DIR` starts one; see *Streets*)"),
    Variable("MINQING_DBT_THREADS", "`2`", "dbt's threads, from the command line and through cosmos (read by "
             "`dbt_project/profiles.yml`)"),
    Variable("MINQING_CLASSIFY_WORKERS", "one per CPU",
             "processes that classify a large round of new texts (20,000 or more); smaller rounds stay in one process"),
    Variable("MINQING_INGEST_WORKERS", "one per CPU",
             "processes that parse a large delivery (16 MB or more) while the loader COPYs what they parsed; "
             "smaller files are parsed in the loader's process"),
    Variable("MINQING_CLASSIFIER_MODEL", "`minqing/analytics/classifier_data/category_model.zip`",
             "the classifier's learned stage (an artefact of `minqing classifier train`)"),
    Variable("MINQING_EVAL_FILE", "`../shared/eval/real_messages.tsv`",
             "the labelled file `minqing classify-eval` measures on"),
    Variable("MINQING_CHROMIUM", "the first of chromium, chromium-browser, google-chrome on the PATH",
             "the browser that prints the briefing's PDF"),
    Variable("MINQING_AIRFLOW_CONN_ID", "`minqing_warehouse`",
             "the Airflow connection the DAGs take the warehouse from (when WAREHOUSE_URL is unset)"),
    Variable("MINQING_COSMOS_MODE", "`watcher`",
             "how the DAGs run dbt through cosmos: `watcher` (one `dbt build` per task group, each model a "
             "sensor task that follows it) or `local` (one `dbt build` per model task)"),
    Variable("MINQING_DAILY_RUN_AT", "`06:00`", "the Beijing time the daily DAG runs every morning, on the day "
             "before's deliveries"),
    Variable("MINQING_DAILY_DEADLINE", "`08:00`", "the Beijing time the daily run must be finished by (before "
             "the dispatch meeting): a Deadline Alert sends the run's alert when it is not"),
    Variable("MINQING_TASK_RETRIES", "`2` (`0` in local `dag.test()` runs)", "retries of each DAG task"),
    Variable("MINQING_TASK_RETRY_DELAY", "`120`", "seconds before a DAG task's first retry (doubling after, "
             "at most 30 minutes)"),
    Variable("MINQING_ALERT_EMAIL_TO", "unset: no alert e-mail",
             "the recipients of the pipeline's alerts by e-mail, separated by commas (see *Alerts*)"),
    Variable("MINQING_ALERT_SMTP_CONN_ID", "`smtp_default`", "the Airflow connection alert e-mail is sent through"),
    Variable("MINQING_ALERT_WEBHOOK_CONN_ID", "`minqing_alert_webhook`",
             "the Airflow connection of the group robot (DingTalk, WeCom, Feishu) or JSON webhook alerts are "
             "posted to; without that connection, no webhook"),
)
_NAMES = frozenset(v.name for v in ENVIRONMENT)
_SET_IN_PROCESS: dict[str, str] = {}  # settings a step set for this process, over the environment's


def env(name: str) -> str | None:
    """The value of one of the project's settings: set for this process (`overridden`,
    `set_for_process`), else the environment's; None when unset or empty."""
    if name not in _NAMES:
        raise KeyError(f"{name} is not one of the project's settings (config.ENVIRONMENT)")
    return _SET_IN_PROCESS.get(name) or os.environ.get(name) or None


def set_for_process(name: str, value: str) -> None:
    """A setting for the rest of this process (an Airflow task's warehouse, from its connection),
    without writing it into the environment that child processes inherit."""
    env(name)  # a known setting
    _SET_IN_PROCESS[name] = value


@contextlib.contextmanager
def overridden(**values: str):
    """Settings for this process inside the block (another warehouse for one step), restored after."""
    for name in values:
        env(name)
    before = dict(_SET_IN_PROCESS)
    _SET_IN_PROCESS.update(values)
    try:
        yield
    finally:
        _SET_IN_PROCESS.clear()
        _SET_IN_PROCESS.update(before)


def secret_from(variable: str) -> str:
    """The value of a variable the user named (a password, a new key); empty when unset."""
    return os.environ.get(variable, "")


def home() -> Path:
    path = Path(env("MINQING_HOME") or Path.cwd() / ".minqing").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def reference_dir() -> Path:
    """The folder of the street-specific seeds (REFERENCE_SEEDS): MINQING_REFERENCE_DIR, else the package's.
    A folder that lacks one of them is refused with the names it lacks."""
    chosen = env("MINQING_REFERENCE_DIR")
    if not chosen:
        return PACKAGED_REFERENCE_DIR
    folder = Path(chosen).expanduser().resolve()
    missing = [f"{name}.csv" for name in REFERENCE_SEEDS if not (folder / f"{name}.csv").is_file()]
    if missing:
        raise FileNotFoundError(
            f"MINQING_REFERENCE_DIR={chosen}: {'no such folder' if not folder.is_dir() else 'lacks ' + ', '.join(missing)}"
            f" (a reference folder holds {', '.join(n + '.csv' for n in REFERENCE_SEEDS)}; "
            "`minqing reference init DIR` copies the package's to start from)")
    return folder


def dbt_project_dir() -> Path:
    """The dbt project dbt runs: the package's; with a district's reference folder, a project of links
    under $MINQING_HOME/dbt/project — every entry of the package's project, and `reference` linking to the
    district's folder. dbt loads seeds by paths inside its project (a seed path outside it would have dbt
    write its SQL over the CSV file: dbt's target path is joined with the seed's file path)."""
    chosen = reference_dir()
    if chosen == PACKAGED_REFERENCE_DIR:
        return DBT_PROJECT_DIR
    project = home() / "dbt" / "project"
    project.mkdir(parents=True, exist_ok=True)
    wanted = {child.name: child for child in DBT_PROJECT_DIR.iterdir() if child.name not in ("target", "logs")}
    wanted["reference"] = chosen
    for link in project.iterdir():
        if link.is_symlink() and link.name not in wanted:
            link.unlink()
    for name, target in wanted.items():
        link = project / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        temporary = project / f".{name}.{os.getpid()}"
        temporary.symlink_to(target)
        os.replace(temporary, link)  # atomic: a concurrent dbt sees the old link or the new one
    return project


def seed_path(name: str) -> Path:
    """The CSV file of the dbt seed `name`: in the reference folder for the street-specific ones, else in
    the package's seeds."""
    return (reference_dir() if name in REFERENCE_SEEDS else SEEDS_DIR) / f"{name}.csv"


def landing_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override or env("LANDING_DIR") or "data/landing").resolve()


def briefing_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the briefing DAG writes the daily briefing: BRIEFING_DIR, else $MINQING_HOME/briefings."""
    return Path(override or env("BRIEFING_DIR") or home() / "briefings").resolve()


DBT_THREADS_DEFAULT = 2  # also dbt_project/profiles.yml's default (tests/unit/test_settings.py)


def dbt_threads() -> int:
    """dbt's threads (MINQING_DBT_THREADS): what profiles.yml reads on the command line, and what the
    DAGs give cosmos' profile."""
    return int(env("MINQING_DBT_THREADS") or DBT_THREADS_DEFAULT)


def worker_processes(variable: str) -> int:
    """Processes for parallel work: the variable's value, else one per CPU; one inside a daemonic
    process (a multiprocessing worker), which may not start processes of its own."""
    if multiprocessing.current_process().daemon:
        return 1
    return max(1, int(env(variable) or os.cpu_count() or 1))


def eval_file() -> Path:
    """The held-out evaluation messages (MINQING_EVAL_FILE; default ../shared/eval/real_messages.tsv):
    measured on, never trained on."""
    return Path(env("MINQING_EVAL_FILE") or PROJECT_ROOT.parent / "shared" / "eval" / "real_messages.tsv")


def hash_key() -> bytes:
    """The HMAC key for personal data.

    Taken from MINQING_HASH_KEY; when unset (a developer machine), a random key is created once
    under $MINQING_HOME/secrets/hash_key with mode 0600 and reused, so keys stay stable across runs.
    """
    value = env("MINQING_HASH_KEY")
    if value:
        return value.encode("utf-8")
    return local_secret("hash_key").encode("utf-8")


def local_secret(name: str) -> str:
    """A random secret created once under $MINQING_HOME/secrets/<name> (mode 0600) and reused: the
    hash key of a developer machine, the local Airflow's JWT secret and admin password."""
    path = home() / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


@lru_cache(maxsize=1)
def settings() -> dict:
    """Rules that are configuration, not code: `minqing/settings.yml`."""
    with open(Path(__file__).with_name("settings.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)
