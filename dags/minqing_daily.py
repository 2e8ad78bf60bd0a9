"""minqing_daily — every morning at 06:00 Beijing time, the day before's complaints:

    ingest_<channel> -> validate_<channel>   (hotline, miniprogram, reception, in parallel)
        -> classify -> dbt_build (cosmos: each model, then its tests) -> forecast
        -> dbt_after_forecast (sentiment code, early warnings, briefing) -> publish

Each run is for one day: the Beijing day before its logical date (`orch.day_of_run`). Ingest takes
the files due by that day, and every dbt task builds as of its end (`MINQING_AS_OF`), so records dated
later count from their own day on. A channel whose batch fails validation is held back
(`minqing held list`) and does not hold back the others: `classify` runs once every channel is
done, whatever became of it, the briefing shows the held channel, and the run ends failed so that
someone looks. `publish` updates the
Assets of the published marts, which the briefing DAG is scheduled on.

Backfill a month: `airflow dags backfill minqing_daily --start-date 2026-07-02 --end-date 2026-08-01`.
Each run takes the landing files due by its day; re-runs and backfills leave the same warehouse.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, TriggerRule, dag, get_current_context, task

import _minqing as glue

from minqing import orchestration as orch
from minqing import pipeline


@dag(
    dag_id=orch.DAILY_DAG_ID,
    schedule=CronTriggerTimetable(glue.SCHEDULE_CRON, timezone=glue.TIME_ZONE),
    start_date=glue.START_DATE,
    catchup=False,
    max_active_runs=1,  # runs of the same DAG never overlap on the warehouse
    default_args=glue.default_args(),
    tags=["minqing", "ingest", "dbt"],
    doc_md=__doc__,
)
def minqing_daily():
    validated = []
    for channel in pipeline.CHANNELS:

        @task(task_id=f"ingest_{channel}")
        def ingest(channel: str = channel) -> list[dict]:
            glue.use_warehouse_connection()
            day = orch.day_of_run(get_current_context().get("logical_date"))
            return pipeline.ingest_channel(channel, day=day)

        @task(task_id=f"validate_{channel}")
        def validate(reports: list[dict], channel: str = channel) -> dict:
            # every loaded file still awaiting validation, not only this run's (`reports`): a file
            # loaded by `minqing ingest` alone, or by a run whose validation failed, is checked here
            glue.use_warehouse_connection()
            return pipeline.validate_channel(channel, run_name=get_current_context()["run_id"])

        validated.append(validate(ingest()))

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def classify() -> int:
        glue.use_warehouse_connection()
        return pipeline.classify()

    @task
    def forecast() -> dict:
        glue.use_warehouse_connection()
        return pipeline.forecast()

    @task(outlets=[glue.mart_asset(name) for name in glue.published_marts()])
    def publish() -> dict:
        # the briefing shows a held channel; the run is on record as failed while any file it held is
        glue.use_warehouse_connection()
        context = get_current_context()
        held = pipeline.held_in_run(context["run_id"])
        pipeline.record_run(context["run_id"], orch.day_of_run(context.get("logical_date")), "airflow",
                            "failed" if held else "success", {"held_file_ids": held})
        return {"held_file_ids": held}

    # what reads the forecast (sentiment code, early warnings, briefing) is built after it: the two
    # selectors of dbt_project/selectors.yml
    dbt_build = glue.dbt_task_group("dbt_build", selector=pipeline.BEFORE_FORECAST)
    early_warnings = glue.dbt_task_group("dbt_after_forecast", selector=pipeline.AFTER_FORECAST)
    validated >> classify() >> dbt_build >> forecast() >> early_warnings >> publish()


minqing_daily()
