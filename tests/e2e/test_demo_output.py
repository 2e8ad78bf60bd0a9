"""`make demo` fits on a screen or two: the libraries' logging (GX, Airflow, cosmos, dbt, SQLAlchemy,
...) stays at WARNING by default and the project's own progress lines at INFO; `-v` shows the detail.
The DAG runs are summed up in a line each, and "where to look" is a few lines, not one per file."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minqing import cli, orchestration
from minqing.devtools import demo
from minqing.config import BEIJING

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# A `minqing` run whose command (patched in for `warehouse url`) logs as the libraries and the project
# do, and raises Python warnings from a library module and from a project module.
SCRIPT = textwrap.dedent(r"""
    import logging, os, sys, warnings
    from minqing import cli

    def command(args):
        for name in ("great_expectations.data_context.data_context_variables", "airflow.models.dagrun",
                     "cosmos.operators.local", "dbt.events", "sqlalchemy.engine.Engine", "alembic.runtime",
                     "asyncio", "/site-packages/great_expectations/data_context/data_context_variables.py"):
            logging.getLogger(name).info("LIBINFO from %s", name)
        # GX sets some of its loggers to INFO itself, below a parent at WARNING
        explicit = logging.getLogger("great_expectations.data_context.types.base")
        explicit.setLevel(logging.INFO)
        explicit.info("LIBINFO from a logger at INFO of its own")
        logging.getLogger("airflow.task").warning("LIBWARNING stays")
        for name in ("minqing.pipeline", "ingestion.loader", "quality.channels"):
            logging.getLogger(name).info("OWNINFO from %s", name)
            logging.getLogger(name).debug("OWNDEBUG from %s", name)
        exec("import warnings; warnings.warn('LIBWARN raised in a library', FutureWarning)",
             {"__name__": "great_expectations.core.something"})
        exec("import warnings; warnings.warn('OWNWARN raised in the project', UserWarning)",
             {"__name__": "minqing.something"})
        if os.environ.get("MINQING_TEST_GX"):
            from quality import context
            with context.exclusive():
                context.get_context()  # adds and saves the data source
                context._contexts.clear()  # as the next process would: GX logs "Stashing FluentDatasource" at INFO
                context.get_context()
        return 0

    cli.admin._cmd_warehouse = command  # the `warehouse` group's handler
    split = sys.argv.index("--")  # the options before the subcommand -- the options after it
    sys.exit(cli.main(sys.argv[1:split] + ["warehouse", "url"] + sys.argv[split + 1:]))
""")


def _minqing(tmp_path: Path, before: tuple[str, ...] = (), after: tuple[str, ...] = (),
             env: dict[str, str] | None = None) -> str:
    """stdout and stderr of `minqing BEFORE warehouse url AFTER` with the command patched as above."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", SCRIPT, *before, "--", *after], cwd=PROJECT_ROOT, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "MINQING_HOME": str(home), **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_by_default_only_the_projects_info_lines_and_no_library_warnings(tmp_path):
    out = _minqing(tmp_path)
    assert "LIBINFO" not in out, out
    assert "LIBWARN " not in out, out
    assert "LIBWARNING stays" in out
    assert out.count("OWNINFO") == 3, out
    assert "OWNDEBUG" not in out
    assert "OWNWARN raised in the project" in out  # the project's own warnings are never filtered


def test_verbose_shows_the_libraries_info_and_warnings(tmp_path):
    out = _minqing(tmp_path, ("-v",))
    assert out.count("LIBINFO") == 9, out
    assert "LIBWARN raised in a library" in out
    assert out.count("OWNDEBUG") == 3, out
    # after the subcommand too
    assert _minqing(tmp_path, after=("-v",)).count("LIBINFO") == 9


def test_quiet_keeps_warnings_only(tmp_path):
    out = _minqing(tmp_path, ("-q",))
    assert "LIBINFO" not in out and "OWNINFO" not in out, out
    assert "LIBWARNING stays" in out and "OWNWARN" in out


@pytest.mark.slow
def test_great_expectations_info_logging_only_with_verbose(tmp_path, server_url):
    env = {"WAREHOUSE_URL": server_url, "MINQING_TEST_GX": "1"}
    quiet = _minqing(tmp_path / "default", env=env)
    assert "great_expectations" not in quiet and "Stashing" not in quiet, quiet
    verbose = _minqing(tmp_path / "verbose", ("-v",), env=env)
    assert "Stashing `FluentDatasource`" in verbose, verbose


def test_verbose_is_a_global_option_and_ingest_keeps_its_own():
    parser = cli.build_parser()
    assert parser.parse_args(["demo"]).verbose == 0
    assert parser.parse_args(["-v", "demo"]).verbose == 1
    assert parser.parse_args(["demo", "-v"]).verbose == 1
    assert parser.parse_args(["-vv", "demo"]).verbose == 2
    assert parser.parse_args(["ingest", "-v"]).verbose  # a line per file, as before
    assert not parser.parse_args(["ingest"]).verbose
    assert parser.parse_args(["-v", "ingest"]).verbose  # a subcommand's default does not reset it
    assert parser.parse_args(["demo", "-q"]).quiet and not parser.parse_args(["demo"]).quiet


def test_run_dag_test_returns_the_process_and_the_runs_summary(monkeypatch):
    summary = ('{"dag_id": "minqing_daily", "run_id": "manual__x", "logical_date": "2026-07-30T22:00:00+00:00", '
               '"day": "2026-07-30", "state": "success", "tasks": 57, "task_states": {"success": 55, '
               '"skipped": 2}, "succeeded": 55, "failed": 0, "skipped": 2, "failed_tasks": [], "seconds": 130.4}')

    def fake_run(args, **kwargs):
        return subprocess.CompletedProcess(args, 0, f"task logs\n{orchestration.DAG_RUN_MARKER}{summary}\n", "")

    monkeypatch.setattr(orchestration.subprocess, "run", fake_run)
    done = orchestration.run_dag_test("minqing_daily", dt.datetime(2026, 7, 31, 6, tzinfo=BEIJING), env={})
    assert done.returncode == 0 and "task logs" in done.stdout and done.stderr == ""
    assert done.summary["state"] == "success" and done.summary["tasks"] == 57
    assert done.line() == "minqing_daily 2026-07-30: success, 57 tasks, 2 min 10 s"
    assert done.line(day=False) == "minqing_daily: success, 57 tasks, 2 min 10 s"

    failed = orchestration.DagTestRun(["python", "-m", "minqing.orchestration", "minqing_daily"], 1, "", "")
    failed.summary = {"dag_id": "minqing_daily", "day": "2026-07-30", "state": "failed", "tasks": 1,
                      "task_states": {"failed": 1}, "seconds": 9.6}
    assert failed.line() == "minqing_daily 2026-07-30: failed, 1 task (1 failed), 10 s"
    crashed = orchestration.DagTestRun(["python", "-m", "minqing.orchestration", "minqing_daily"], 1, "", "")
    assert crashed.summary is None and "minqing_daily" in crashed.line()


def test_the_day_of_the_summary_is_the_runs_data_day():
    # the demo runs at 06:00 Beijing on the 31st for the data of the 30th
    assert orchestration.day_of_run(dt.datetime(2026, 7, 31, 6, tzinfo=BEIJING)) == dt.date(2026, 7, 30)


def test_where_to_look_is_short_and_ends_with_the_briefing(fresh_warehouse, tmp_path, monkeypatch):
    from ingestion.loader import ingest
    from minqing.devtools.generate import generate

    landing = tmp_path / "landing"
    generate(landing, days=2, seed=3, per_day=5, start=dt.date(2026, 7, 1))
    reports = ingest(landing, progress=False)
    briefings = tmp_path / "briefings"
    briefings.mkdir()
    (briefings / "briefing_2026-07-02.html").write_text("<html></html>", encoding="utf-8")
    monkeypatch.setenv("BRIEFING_DIR", str(briefings))

    lines = demo._where_to_look(fresh_warehouse)
    assert len(lines) <= 12, lines
    assert not any(r.file in line for r in reports for line in lines), lines  # no line per file
    assert any(line.startswith("rows: ") and " in = " in line for line in lines), lines
    assert any("raw.quarantine" in line for line in lines)
    assert sum(line.startswith("marts: ") for line in lines) == 1
    assert "briefing_2026-07-02.html" in lines[-2] and lines[-1].strip().startswith("PDF:"), lines

    detail = demo._where_to_look(fresh_warehouse, verbose=True)
    assert len(detail) >= len(lines) + len(reports) - 1
    assert "briefing_2026-07-02.html" in detail[-2]
    # a district's warehouse: the briefing DAG also wrote each street's, in a folder of its own
    for street in ("yushu", "huaiyuan"):
        (briefings / street).mkdir()
        (briefings / street / "briefing_2026-07-02.html").write_text("<html></html>", encoding="utf-8")
    streets = demo._where_to_look(fresh_warehouse)[-1]
    assert streets.strip().startswith("each street's own") and streets.endswith("for huaiyuan, yushu"), streets
