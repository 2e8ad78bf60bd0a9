"""minqing_briefing — the daily dispatch briefing (每日调度简报), after each successful daily run.

Scheduled on the Asset `marts.rpt_dispatch_briefing`, which minqing_daily's `publish` task updates
only when every mart is built and has passed its suite. Renders the newest briefing from the marts
(`minqing briefing` does the same by hand, for any day held) into BRIEFING_DIR
(default $MINQING_HOME/briefings): one self-contained HTML page, its tables as CSV, and a PDF where
a Chromium is installed. In a warehouse of several streets, the district's there and each street's own
(its morning meeting's) in BRIEFING_DIR/<street_id>/ (`pipeline.publish_briefing`).
"""

from __future__ import annotations

from airflow.sdk import dag, task

import _minqing as glue

from minqing import orchestration as orch
from minqing import pipeline


@dag(
    dag_id=orch.BRIEFING_DAG_ID,
    schedule=[glue.mart_asset("rpt_dispatch_briefing")],
    start_date=glue.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=glue.default_args(),
    tags=["minqing", "briefing"],
    doc_md=__doc__,
)
def minqing_briefing():
    @task
    def render_briefing() -> dict:
        glue.use_warehouse_connection()
        return pipeline.publish_briefing()

    render_briefing()


minqing_briefing()
