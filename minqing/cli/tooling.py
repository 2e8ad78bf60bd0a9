"""dbt, GX and Airflow by hand: the manifest, the docs sites, local DAG runs."""

from __future__ import annotations

import datetime as dt
import shlex
import sys

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
    from quality import build_data_docs

    print(build_data_docs())
    return 0


def _cmd_airflow(args) -> int:
    from minqing import orchestration

    if args.action == "env":
        for key, value in orchestration.airflow_env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    day = args.date or dt.datetime.now(config.BEIJING).date() - dt.timedelta(days=1)
    run_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), config.BEIJING)
    done = orchestration.run_dag_test(args.dag, run_at)
    print(done.stdout[-4000:])
    if done.returncode != 0:
        print(done.stderr[-8000:], file=sys.stderr)
    return done.returncode


def register(sub) -> None:
    p = sub.add_parser("dbt-manifest", help="build dbt_project/target/manifest.json (dbt parse, no database)")
    p.set_defaults(func=_cmd_dbt_manifest)

    p = sub.add_parser("dbt-docs", help="generate the dbt docs site under $MINQING_HOME/dbt/docs")
    p.set_defaults(func=_cmd_dbt_docs)

    p = sub.add_parser("data-docs", help="render the GX Data Docs of every stored validation under $MINQING_HOME/gx "
                                         "(runs do not: the site's index grows with the history)")
    p.set_defaults(func=_cmd_data_docs)

    p = sub.add_parser("airflow", help="run a DAG locally with dag.test(), or print the local Airflow environment")
    p.add_argument("action", choices=["test", "env"])
    p.add_argument("--dag", default="minqing_daily")
    p.add_argument("--date", type=_date, help="the day the run works on (default: yesterday)")
    p.set_defaults(func=_cmd_airflow)
