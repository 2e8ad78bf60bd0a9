"""minqing_daily — every morning at 06:00 Beijing time (MINQING_DAILY_RUN_AT), the day before's complaints:

    ingest_<channel> -> validate_<channel>   (hotline, miniprogram, reception, in parallel)
        -> classify -> dbt_build (cosmos: each model, then its tests) -> forecast, link, effects (in parallel)
        -> dbt_after_forecast (sentiment code, early warnings, problems, effects, briefing) -> publish -> report

Each run is for one day: the Beijing day before its logical date (`orch.day_of_run`). Ingest takes
the files due by that day, and every dbt task builds as of its end (`MINQING_AS_OF`), so records dated
later count from their own day on. A channel whose batch fails validation is held back
(`minqing held list`) and does not hold back the others: `classify` runs once every channel is
done, whatever became of it, the briefing shows the held channel. `publish` updates the Assets of the
published marts, which the briefing DAG is scheduled on. `report`, last whatever happened, puts the
run on record and sends its one alert (minqing.run_alerts) when a task or check failed, a channel was
held back or a delivery is missing or late; the run ends failed when a task failed or a channel is
held, so that someone looks. A run not finished by the deadline (MINQING_DAILY_DEADLINE,
08:00) sends the same kind of alert through a Deadline Alert.

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
    deadline=glue.deadline_alert(),  # finished before the dispatch meeting, or an alert
    tags=["minqing", "ingest", "dbt"],
    doc_md=__doc__,
)
def minqing_daily():
    validated = []
    for channel in pipeline.CHANNELS:

        # lineage (README: Lineage): the channel's landing folder in, its raw table out
        @task(task_id=f"ingest_{channel}", inlets=[glue.landing_asset(channel)], outlets=[glue.raw_asset(channel)])
        def ingest(channel: str = channel) -> list[dict]:
            glue.use_warehouse_connection()
            day = orch.day_of_run(get_current_context().get("logical_date"))
            return pipeline.ingest_channel(channel, day=day)

        @task(task_id=f"validate_{channel}", inlets=[glue.raw_asset(channel)])
        def validate(reports: list[dict], channel: str = channel) -> dict:
            # every loaded file still awaiting validation, not only this run's (`reports`): a file
            # loaded by `minqing ingest` alone, or by a run whose validation failed, is checked here
            glue.use_warehouse_connection()
            return pipeline.validate_channel(channel, run_name=get_current_context()["run_id"])

        validated.append(validate(ingest()))

    @task(trigger_rule=TriggerRule.ALL_DONE, inlets=[glue.raw_asset(channel) for channel in pipeline.CHANNELS],
          outlets=[glue.table_asset("ops.text_classifications")])
    def classify() -> int:
        glue.use_warehouse_connection()
        return pipeline.classify()

    @task(inlets=[glue.mart_asset("fct_community_category_daily")], outlets=[glue.table_asset("ops.forecasts")])
    def forecast() -> dict:
        glue.use_warehouse_connection()
        return pipeline.forecast()

    @task(inlets=[glue.mart_asset("fct_complaints")],
          outlets=[glue.table_asset(t) for t in ("ops.problems", "ops.problem_members", "ops.problem_links")])
    def link() -> dict:
        glue.use_warehouse_connection()
        return pipeline.link()

    @task(inlets=[glue.mart_asset("fct_daily_complaint_counts")], outlets=[glue.table_asset("ops.intervention_effects")])
    def effects() -> dict:
        glue.use_warehouse_connection()
        return pipeline.effects()

    @task(outlets=[glue.mart_asset(name) for name in glue.published_marts()])
    def publish() -> dict:
        # every mart built and checked: the Assets the briefing DAG is scheduled on are updated
        return {"published": len(glue.published_marts())}

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def report() -> dict:
        # last, whatever happened before: the run on record, its one alert when something went wrong
        # (a failed task or check, a held channel, a missing or late delivery); the run ends failed
        # when a task failed or a channel is held
        glue.use_warehouse_connection()
        return glue.report_run(get_current_context())

    # what reads the forecast (sentiment code, early warnings, briefing) is built after it: the two
    # selectors of dbt_project/selectors.yml
    dbt_build = glue.dbt_task_group("dbt_build", selector=pipeline.BEFORE_FORECAST)
    early_warnings = glue.dbt_task_group("dbt_after_forecast", selector=pipeline.AFTER_FORECAST)
    validated >> classify() >> dbt_build >> [forecast(), link(), effects()] >> early_warnings >> publish() >> report()


minqing_daily()
