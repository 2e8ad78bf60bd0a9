"""A real Airflow on this machine, as data engineers run it: the api-server, scheduler, dag-processor
and triggerer as separate processes, the LocalExecutor (each task in its own process through the
task SDK), the metadata in PostgreSQL — the database `airflow` of the warehouse's server, not SQLite
— and the project's DAG folder. Everything listens on 127.0.0.1 only.

`minqing airflow up` runs it in the foreground (Ctrl-C stops it); the real-scheduler tests start and
stop the same stack (`LocalAirflow`) and drive it through the REST API (`ApiClient`, `/api/v2`,
authenticated with a token of the simple auth manager). `docker-compose.yml` runs the same
components with the CeleryExecutor.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from minqing import config, orchestration

log = logging.getLogger(__name__)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
METADATA_DATABASE = "airflow"
ADMIN_USER = "admin"


def metadata_url(warehouse_url: str, database: str = METADATA_DATABASE) -> str:
    """The SQLAlchemy URL of Airflow's metadata: the database `airflow` on the warehouse's server
    (created when missing), through psycopg2 as Airflow's own images use."""
    from sqlalchemy.engine import URL

    params = conninfo_to_dict(warehouse_url)
    with psycopg.connect(make_conninfo(warehouse_url, dbname="postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            conn.execute(f'create database "{database}"')
    host = params.get("host") or "localhost"
    socket_dir = host.startswith("/")
    return URL.create(
        "postgresql+psycopg2", username=params.get("user"), password=params.get("password") or None,
        host=None if socket_dir else host, port=int(params["port"]) if params.get("port") and not socket_dir else None,
        database=database,
        query={"host": host, **({"port": params["port"]} if params.get("port") else {})} if socket_dir else {},
    ).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalAirflow:
    """The four components on `port` (the api-server's), their logs in `home/logs/<component>.log`,
    the metadata in `metadata_database` on the warehouse's server. `env`: more settings for every
    component (the landing folder, retries...)."""

    home: Path
    port: int = 8080
    warehouse_url: str | None = None
    metadata_database: str = METADATA_DATABASE
    env: dict[str, str] = field(default_factory=dict)
    parallelism: int = 4
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def password(self) -> str:
        return json.loads(self.password_file.read_text(encoding="utf-8"))[ADMIN_USER]

    def environment(self) -> dict[str, str]:
        from minqing import warehouse

        warehouse_url = self.warehouse_url or warehouse.url()
        base = orchestration.airflow_env(warehouse_url)
        return {
            **os.environ, **base,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(warehouse_url, self.metadata_database),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            # one secret for every component: the scheduler signs the tasks' tokens, the api-server checks them
            "AIRFLOW__API_AUTH__JWT_SECRET": config.local_secret("airflow_jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": config.local_secret("airflow_api_secret_key"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.password_file),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            # the api-server reads the task logs from this machine's disk: no log server on 0.0.0.0
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            **self.env,
        }

    def prepare(self) -> dict[str, str]:
        """The metadata database migrated and the admin's password on file (created once, kept under
        $MINQING_HOME/secrets); returns the components' environment."""
        orchestration.ensure_manifest()
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        env = self.environment()
        self.password_file.write_text(json.dumps({ADMIN_USER: config.local_secret("airflow_admin_password")}),
                                      encoding="utf-8")
        self.password_file.chmod(0o600)
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, text=True,
                              capture_output=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stderr[-4000:]}")
        return env

    def start(self, wait: float = 300) -> None:
        env = self.prepare()
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }
        for name in COMPONENTS:
            out = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *commands[name]], env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)  # its own process group: stop() ends its children too
        self.wait_healthy(wait)

    def wait_healthy(self, timeout: float) -> dict:
        """Until the api-server answers and the scheduler, dag-processor and triggerer report healthy."""
        deadline = time.monotonic() + timeout
        last: dict | str = "no answer"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}")
            try:
                last = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                if all((last.get(part) or {}).get("status") == "healthy"
                       for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")):
                    return last
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(2)
        raise TimeoutError(f"Airflow was not healthy within {timeout:.0f} s: {last}\n"
                           + "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in self.processes))

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.home / "logs" / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace")[-chars:] if path.exists() else ""

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to each component's process group, SIGKILL to what is left after `timeout`."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        self.processes.clear()

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self) -> ApiClient:
        return ApiClient(self.base_url, ADMIN_USER, self.password())


class ApiClient:
    """Airflow's REST API (`/api/v2`) with a token of the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str):
        token = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password},
                           timeout=30)
        token.raise_for_status()
        self.http = httpx.Client(base_url=f"{base_url}/api/v2", timeout=60,
                                 headers={"Authorization": f"Bearer {token.json()['access_token']}"})

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else {}

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> dict:
        """Until the dag-processor has parsed the DAG into the metadata database."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.http.get(f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            time.sleep(2)
        errors = self._call("GET", "/importErrors")
        raise TimeoutError(f"{dag_id} not parsed within {timeout:.0f} s; import errors: {errors}")

    def unpause(self, dag_id: str) -> dict:
        return self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, logical_date: dt.datetime, run_id: str | None = None) -> dict:
        body = {"logical_date": logical_date.isoformat()}
        if run_id:
            body["dag_run_id"] = run_id
        return self._call("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def run(self, dag_id: str, run_id: str) -> dict:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def runs(self, dag_id: str) -> list[dict]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "logical_date"})[
            "dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1200) -> dict:
        """Until the run is success or failed (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(3)
        raise TimeoutError(f"{dag_id} {run_id} not finished within {timeout:.0f} s: {self.run(dag_id, run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run, page by page: the API serves at most `[api] maximum_page_limit`
        (100 by default) a request whatever the limit asked, and the daily DAG has more tasks than that."""
        found: list[dict] = []
        while True:
            page = self._call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances",
                              params={"limit": 100, "offset": len(found)})
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def backfill(self, dag_id: str, start: dt.datetime, end: dt.datetime) -> dict:
        """A backfill of the runs whose logical dates fall in [start, end]; completed runs run again."""
        return self._call("POST", "/backfills", json={
            "dag_id": dag_id, "from_date": start.isoformat(), "to_date": end.isoformat(),
            "reprocess_behavior": "completed", "max_active_runs": 1})

    def clear_task(self, dag_id: str, run_id: str, task_ids: list[str]) -> dict:
        """Run these tasks of a finished run again (the run goes back to running)."""
        return self._call("POST", f"/dags/{dag_id}/clearTaskInstances", json={
            "dry_run": False, "dag_run_id": run_id, "task_ids": task_ids, "only_failed": False,
            "reset_dag_runs": True, "include_downstream": False, "include_upstream": False})
