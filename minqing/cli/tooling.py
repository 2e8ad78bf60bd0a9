"""dbt, GX and Airflow by hand: the manifest, the docs sites, local DAG runs."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
import time

from minqing import config
from minqing.cli._common import _date


def _cmd_dbt_manifest(args) -> int:
    from minqing import orchestration

    print(orchestration.ensure_manifest())
    return 0


def _cmd_dbt_docs(args) -> int:
    from minqing import transform

    print(transform.docs())
    return 0


def _cmd_data_docs(args) -> int:
    from minqing.publishing import validation_report

    print(validation_report.write())
    return 0


def _cmd_docs(args) -> int:
    """`minqing docs serve`: the interactive dbt docs site over HTTP on 127.0.0.1 until Ctrl-C."""
    import functools
    import http.server

    from minqing import transform

    folder = transform.docs_dir()
    if not (folder / "index.html").exists():
        transform.docs()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as server:
        print(f"docs: the dbt docs site on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops it)",
              file=sys.stderr)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def _cmd_airflow(args) -> int:
    from minqing import orchestration

    if args.action == "env":
        for key, value in orchestration.airflow_env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    if args.action == "up":
        return _airflow_up(args)
    day = args.date or dt.datetime.now(config.BEIJING).date() - dt.timedelta(days=1)
    done = orchestration.run_dag_test(args.dag, orchestration.logical_date_for(day))
    print(done.stdout[-4000:])
    if done.returncode != 0:
        print(done.stderr[-8000:], file=sys.stderr)
    return done.returncode


def _airflow_up(args) -> int:
    """The real stack in the foreground: api-server, scheduler, dag-processor, triggerer (LocalExecutor,
    metadata in PostgreSQL) until Ctrl-C; the project's DAGs unpaused, a run of `--date` triggered."""
    import signal

    from minqing import orchestration
    from minqing.airflow_stack import ADMIN_USER, LocalAirflow

    def stop_on_sigterm(*_):
        raise KeyboardInterrupt  # SIGTERM stops the stack as Ctrl-C does

    stack = LocalAirflow(home=config.home() / "airflow", port=args.port)
    print(f"starting Airflow on {stack.base_url} (logs: {stack.home / 'logs'}) ...", flush=True)
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        stack.start()
        client = stack.client()
        for dag_id in (orchestration.DAILY_DAG_ID, orchestration.BRIEFING_DAG_ID):
            client.wait_for_dag(dag_id)
            client.unpause(dag_id)
        print(f"Airflow is up: {stack.base_url}  user {ADMIN_USER}, password in {stack.password_file}")
        if args.date:
            run = client.trigger(orchestration.DAILY_DAG_ID, orchestration.logical_date_for(args.date))
            print(f"triggered {run['dag_id']} {run['dag_run_id']} for {args.date}")
        print("Ctrl-C stops every component.", flush=True)
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(2)
        print("a component exited: " + ", ".join(f"{n} ({p.returncode})" for n, p in stack.processes.items()
                                                if p.poll() is not None), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping Airflow ...", flush=True)
        stack.stop()


def register(sub) -> None:
    p = sub.add_parser("dbt-manifest", help="build dbt_project/target/manifest.json (dbt parse, no database)")
    p.set_defaults(func=_cmd_dbt_manifest)

    p = sub.add_parser("dbt-docs", help="generate the dbt docs under $MINQING_HOME/dbt/docs: static_index.html, one "
                                        "page that opens from disk with no network")
    p.set_defaults(func=_cmd_dbt_docs)

    p = sub.add_parser("docs", help="serve the interactive dbt docs site on 127.0.0.1 (serve)")
    p.add_argument("action", choices=["serve"])
    p.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (default 8081)")
    p.set_defaults(func=_cmd_docs)

    p = sub.add_parser("data-docs", help="the validation report: every stored GX validation as one self-contained "
                                         "page under $MINQING_HOME/quality that opens offline")
    p.set_defaults(func=_cmd_data_docs)

    p = sub.add_parser("airflow", help="run a DAG locally with dag.test() (test), a real local Airflow until "
                                       "Ctrl-C (up), or print the local Airflow environment (env)")
    p.add_argument("action", choices=["test", "up", "env"])
    p.add_argument("--dag", default="minqing_daily")
    p.add_argument("--date", type=_date, help="the day the run works on (test: default yesterday; up: trigger "
                                              "a daily run of this day)")
    p.add_argument("--port", type=int, default=8080, help="up: the api-server's port on 127.0.0.1 (default 8080)")
    p.set_defaults(func=_cmd_airflow)
