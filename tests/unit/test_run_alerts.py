"""What a daily run's alert says (minqing.run_alerts), from the facts the report task gathers: no
database, no Airflow."""

from __future__ import annotations

import asyncio
import datetime as dt

from minqing import alerts, run_alerts
from minqing.run_alerts import RunFacts, compose, compose_late

DAY = dt.date(2026, 7, 30)
RUN = "scheduled__2026-07-30T22:00:00+00:00"
UI = "http://127.0.0.1:8080"


def _facts(**kwargs) -> RunFacts:
    return RunFacts("minqing_daily", RUN, DAY, base_url=UI, **kwargs)


def test_a_clean_run_sends_nothing():
    assert compose(_facts()) is None


def test_a_failed_build_and_a_held_channel_say_what_failed_for_which_day_and_what_to_do_first():
    facts = _facts(failed_tasks=["dbt_build.dbt_producer_watcher", "dbt_build.fct_complaints.test"],
                   not_reached=["forecast", "publish"],
                   held_files=[{"file_id": 12, "channel": "hotline", "path": "hotline/12345_20260730.csv",
                                "reason": "more than half of the rows broke a rule", "rows": 80}],
                   delivery_notices=["物业小程序 7月30日 数据未到（应于7月31日 06:00前送达）"])
    assert facts.failed
    alert = compose(facts)
    assert alert.subject == "【民情】2026-07-30 日报运行失败：1 个渠道被暂扣，dbt 构建失败，数据检查未通过"
    text = "\n".join(alert.lines)
    assert "数据日：2026-07-30（供7月31日调度会使用）" in text
    assert f"{UI}/dags/minqing_daily/runs/{RUN.replace(':', '%3A').replace('+', '%2B')}/tasks/dbt_build.dbt_producer_watcher" in text
    assert "数据检查未通过：dbt_build.fct_complaints.test" in text
    assert "简报与民情码未发布" in text
    assert "渠道暂扣：12345/400热线 文件 12（hotline/12345_20260730.csv，80 行）" in text
    assert "minqing held list" in text and "from raw.quarantine where file_id in (12)" in text
    assert "报送提醒：物业小程序 7月30日 数据未到" in text
    assert alert.day == DAY and alert.run_id == RUN and alert.link.startswith(f"{UI}/dags/minqing_daily/runs/")


def test_missing_deliveries_alone_are_told_but_do_not_fail_the_run():
    facts = _facts(delivery_notices=["12345热线 7月30日 数据未到（应于7月31日 06:00前送达）"])
    assert not facts.failed and facts.needs_alert
    alert = compose(facts)
    assert alert.subject == "【民情】2026-07-30 数据提醒：1 项报送缺失或迟到"
    assert any("补报" in line for line in alert.lines)


def test_the_late_alert_names_the_deadline_and_the_meeting():
    deadline = dt.datetime(2026, 7, 31, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    alert = compose_late("minqing_daily", RUN, DAY, deadline, "running", base_url=UI)
    assert alert.subject == "【民情】2026-07-30 日报运行超时：08:00 前未完成"
    assert any("07月31日 08:00" in line and "running" in line for line in alert.lines)


def test_a_backfill_past_its_deadline_is_not_late(monkeypatch):
    sent = []

    async def record(alert):
        sent.append(alert)
        return ["recorded"]

    monkeypatch.setattr(run_alerts, "anotify", record)
    context = {"dag_run": {"dag_id": "minqing_daily", "dag_run_id": "backfill__2026-07-29T22:00:00+00:00",
                           "run_type": "backfill", "logical_date": "2026-07-29T22:00:00+00:00", "state": "running"},
               "deadline": {"deadline_time": "2026-07-30T00:00:00+00:00"}}
    asyncio.run(run_alerts.deadline_missed(context=context))
    assert sent == []
    context["dag_run"].update(run_type="scheduled", dag_run_id=RUN)
    asyncio.run(run_alerts.deadline_missed(context=context))
    assert [a.subject for a in sent] == ["【民情】2026-07-29 日报运行超时：08:00 前未完成"]
    assert isinstance(sent[0], alerts.Alert)
