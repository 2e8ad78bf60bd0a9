"""Settings from the environment, with the project-local defaults documented in the README.

| variable          | default                  | meaning                                                  |
|-------------------|--------------------------|----------------------------------------------------------|
| MINQING_HOME      | ./.minqing               | state: embedded warehouse, secrets, GX and Airflow files |
| WAREHOUSE_URL     | (embedded server)        | libpq URL of an external PostgreSQL to use instead       |
| LANDING_DIR       | data/landing             | landing folder the sources drop files into               |
| MINQING_HASH_KEY  | generated once under HOME| secret key of the HMAC that pseudonymises personal data  |
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

BEIJING = ZoneInfo("Asia/Shanghai")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


def home() -> Path:
    path = Path(os.environ.get("MINQING_HOME") or Path.cwd() / ".minqing").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def landing_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get("LANDING_DIR") or "data/landing").resolve()


def briefing_dir(override: str | os.PathLike | None = None) -> Path:
    """Where the briefing DAG writes the daily briefing: BRIEFING_DIR, else $MINQING_HOME/briefings."""
    return Path(override or os.environ.get("BRIEFING_DIR") or home() / "briefings").resolve()


def hash_key() -> bytes:
    """The HMAC key for personal data.

    Taken from MINQING_HASH_KEY; when unset (a developer machine), a random key is created once
    under $MINQING_HOME/secrets/hash_key with mode 0600 and reused, so keys stay stable across runs.
    """
    value = os.environ.get("MINQING_HASH_KEY")
    if value:
        return value.encode("utf-8")
    path = home() / "secrets" / "hash_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


@lru_cache(maxsize=1)
def settings() -> dict:
    """Rules that are configuration, not code: `minqing/settings.yml`."""
    with open(Path(__file__).with_name("settings.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)
