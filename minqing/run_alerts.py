"""What a daily run's alert says: one notification per run of the daily DAG, in Chinese, when
something went wrong — a failed task, a channel held back, a delivery missing or late, a mart check
that failed — or when the run was not finished by the deadline before the dispatch meeting. Each
says what failed, for which day, and what to do first (the log's link, the quarantine query,
`minqing held list`). How it reaches people (e-mail, a group robot) is `minqing.alerts`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from ingestion.contracts import CONTRACTS
from minqing import config, orchestration, pipeline, warehouse
from minqing.alerts import Alert, anotify, notify

log = logging.getLogger(__name__)

FAILED = ("failed",)
NOT_REACHED = ("upstream_failed",)


@dataclass
class RunFacts:
    """What the report task finds at the end of a run (`gather`)."""

    dag_id: str
    run_id: str
    day: dt.date
    failed_tasks: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)  # upstream_failed: did not run because of those
    held_files: list[dict] = field(default_factory=list)  # file_id, channel, path, reason, rows
    delivery_notices: list[str] = field(default_factory=list)  # missing, late, held, pending (the briefing's)
    base_url: str | None = None  # the Airflow UI's

    @property
    def failed(self) -> bool:
        """The run ends failed: a task failed or a channel is held back. Missing or late deliveries
        alone are told, not failed: the run did its work on what came."""
        return bool(self.failed_tasks or self.held_files)

    @property
    def needs_alert(self) -> bool:
        return self.failed or bool(self.delivery_notices)


def gather(dag_id: str, run_id: str, day: dt.date, task_states: dict[str, str | None],
           base_url: str | None = None, *, this_task: str | None = None) -> RunFacts:
    """The run's facts from its task states (task id -> state, as Airflow reports them) and the
    warehouse: the files it held back, the day's delivery notices."""
    states = {task: str(state or "") for task, state in task_states.items() if task != this_task}
    facts = RunFacts(dag_id, run_id, day, base_url=base_url,
                     failed_tasks=sorted(t for t, s in states.items() if s in FAILED),
                     not_reached=sorted(t for t, s in states.items() if s in NOT_REACHED))
    held = pipeline.held_in_run(run_id)
    if held:
        with warehouse.connect() as conn:
            facts.held_files = [
                {"file_id": file_id, "channel": channel, "path": path, "reason": reason, "rows": rows}
                for file_id, channel, path, reason, rows in conn.execute(
                    """select f.file_id, f.channel, f.path, d.reason, f.rows_in
                         from ops.ingested_files as f
                         join lateral (select reason from ops.file_decisions
                                        where file_id = f.file_id and decision = 'held'
                                        order by decision_id desc limit 1) as d on true
                        where f.file_id = any(%s) order by f.file_id""", (held,))]
    facts.delivery_notices = pipeline.delivery_warnings(day)
    return facts


def _run_page(base_url: str | None, dag_id: str, run_id: str) -> str | None:
    """The run's page in the Airflow UI (None without the UI's address); a task's is below it."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def _task_link(facts: RunFacts, task_id: str) -> str:
    page = _run_page(facts.base_url, facts.dag_id, facts.run_id)
    return f"{page}/tasks/{task_id}" if page else ""


def _kind(task_id: str) -> str:
    """What a failed task was, for people: a mart check (a dbt test task: `<group>.<model>.test`, a
    test of several models `<group>.<test>_test`), the dbt build (watcher mode's one `dbt build` of a
    group, models and checks together; a model's task), or another task."""
    if not task_id.startswith("dbt_"):
        return "任务失败"
    if task_id.endswith((".test", "_test")):
        return "数据检查未通过"
    if task_id.endswith("dbt_producer_watcher"):
        return "dbt 构建失败（某个模型或数据检查出错，见日志）"
    return "dbt 模型构建失败"


def _meeting(day: dt.date) -> str:
    meeting = day + dt.timedelta(days=1)
    return f"{meeting.month}月{meeting.day}日调度会"


def compose(facts: RunFacts) -> Alert | None:
    """The run's one notification, or None when nothing went wrong."""
    if not facts.needs_alert:
        return None
    day = f"{facts.day:%Y-%m-%d}"
    problems, first = [], []
    if facts.failed:
        kinds = []
        if facts.held_files:
            kinds.append(f"{len({f['channel'] for f in facts.held_files})} 个渠道被暂扣")
        counts = Counter(_kind(task_id).split("（")[0] for task_id in facts.failed_tasks)
        kinds += [kind if n == 1 else f"{kind} {n} 项" for kind, n in counts.items()]
        subject = f"【民情】{day} 日报运行失败：{'，'.join(kinds)}"
    else:
        subject = f"【民情】{day} 数据提醒：{len(facts.delivery_notices)} 项报送缺失或迟到"
    lines = [f"数据日：{day}（供{_meeting(facts.day)}使用）；运行：{facts.dag_id} {facts.run_id}"]
    for task_id in facts.failed_tasks:
        link = _task_link(facts, task_id)
        problems.append(f"{_kind(task_id)}：{task_id}" + (f"；日志：{link}" if link else ""))
    if facts.not_reached:
        problems.append(f"因上游失败未运行：{len(facts.not_reached)} 个任务"
                        + ("，简报与民情码未发布" if "publish" in facts.not_reached else ""))
    for held in facts.held_files:
        label = CONTRACTS[held["channel"]].label_zh
        problems.append(f"渠道暂扣：{label} 文件 {held['file_id']}（{held['path']}，{held['rows']} 行）——{held['reason']}")
    problems += [f"报送提醒：{notice}" for notice in facts.delivery_notices]
    if facts.failed_tasks:
        first.append("先看失败任务的日志（上面的链接，或 Airflow 界面里这次运行的任务）；修好后重跑失败的任务")
    if facts.held_files:
        ids = ", ".join(str(f["file_id"]) for f in facts.held_files)
        first.append("查看被暂扣的文件和原因：minqing held list")
        first.append(f"查看隔离的行：select file_id, check_name, reason, count(*) from raw.quarantine "
                     f"where file_id in ({ids}) group by 1, 2, 3 order by 4 desc;")
        first.append("核对后放行（minqing held release <文件号> --reason \"核对说明\"）"
                     "或退回（minqing held reject <文件号> --reason \"退回原因\"）；放行的行在下一次运行时入库")
    if facts.delivery_notices:
        first.append("联系未按时报送的渠道补报；文件到达后重跑当天（或等明早的运行）")
    lines += ["问题："] + [f"- {p}" for p in problems] + ["先做："] + [f"{i}. {f}" for i, f in enumerate(first, 1)]
    return Alert(subject=subject, lines=tuple(lines), day=facts.day, dag_id=facts.dag_id, run_id=facts.run_id,
                 link=_run_page(facts.base_url, facts.dag_id, facts.run_id))


def report_run(dag_id: str, run_id: str, day: dt.date, task_states: dict[str, str | None],
               base_url: str | None = None, *, this_task: str | None = None) -> dict:
    """The daily DAG's last task: gather the run's facts, put the run on record
    (ops.pipeline_runs), send its one alert when something went wrong. Returns what was found and
    sent; `failed` says whether the run must end failed."""
    facts = gather(dag_id, run_id, day, task_states, base_url, this_task=this_task)
    pipeline.record_run(run_id, day, "airflow", "failed" if facts.failed else "success",
                        {"failed_tasks": facts.failed_tasks, "held_file_ids": [f["file_id"] for f in facts.held_files],
                         "deliveries": facts.delivery_notices})
    alert = compose(facts)
    sent = notify(alert) if alert else []
    if alert:
        log.warning("%s\n%s", alert.subject, "\n".join(alert.lines))
    return {"failed": facts.failed, "failed_tasks": facts.failed_tasks,
            "held_file_ids": [f["file_id"] for f in facts.held_files], "deliveries": facts.delivery_notices,
            "alert": alert.subject if alert else None, "sent": sent}


def compose_late(dag_id: str, run_id: str, day: dt.date, deadline: dt.datetime, state: str | None,
                 base_url: str | None = None) -> Alert:
    """The alert of a run not finished by the deadline before the meeting."""
    return Alert(
        subject=f"【民情】{day:%Y-%m-%d} 日报运行超时：{deadline:%H:%M} 前未完成",
        lines=(f"数据日：{day:%Y-%m-%d}（供{_meeting(day)}使用）；运行：{dag_id} {run_id}",
               "问题：",
               f"- 截至 {deadline:%m月%d日 %H:%M}（北京时间）运行仍未完成（状态：{state or '未知'}），简报可能赶不上调度会",
               "先做：",
               "1. 在 Airflow 界面查看这次运行卡在哪个任务（上面的链接）",
               "2. 若来不及，会上先用前一天的简报，并说明今日数据待补"),
        day=day, dag_id=dag_id, run_id=run_id, link=_run_page(base_url, dag_id, run_id))


async def deadline_missed(context: dict | None = None, **_: object) -> None:
    """The Deadline Alert's callback (Airflow runs it in the triggerer): the daily run was not
    finished by the deadline. Backfills of past days are not late; they are skipped."""
    run = (context or {}).get("dag_run") or {}
    if run.get("run_type") == "backfill":
        log.info("deadline of backfill run %s passed: not an alert", run.get("dag_run_id"))
        return
    logical = run.get("logical_date")
    logical = dt.datetime.fromisoformat(logical) if isinstance(logical, str) else logical
    deadline = ((context or {}).get("deadline") or {}).get("deadline_time")
    deadline = dt.datetime.fromisoformat(deadline) if isinstance(deadline, str) else deadline
    deadline = (deadline or dt.datetime.now(config.BEIJING)).astimezone(config.BEIJING)
    alert = compose_late(run.get("dag_id", orchestration.DAILY_DAG_ID), run.get("dag_run_id", "?"),
                         orchestration.day_of_run(logical), deadline, run.get("state"), base_url=_airflow_base_url())
    sent = await anotify(alert)
    log.warning("deadline missed: %s; sent: %s", alert.subject, sent or "no notifier configured")


def _airflow_base_url() -> str | None:
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback=None)
    except Exception:  # noqa: BLE001 - the link is a convenience
        return None
