"""The morning's picture is true (issue 15): the run's day bounds the marts, missing deliveries are shown
and never read as 0, a batch that fails validation is held back until a person decides, and published
briefings survive a rebuild.

One generated month (1–22 July 2026) is written once; each test copies the deliveries it needs into its
own landing folder (keeping their landing times) and runs the real pipeline on a fresh database.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import psycopg
import pytest

from minqing import cli
from minqing.publishing import briefing
from minqing.devtools.generate import generate
from minqing.pipeline import run

from conftest import chromium_page

pytestmark = pytest.mark.slow

START, DAYS = dt.date(2026, 7, 1), 22
DAY = dt.date(2026, 7, 16)


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run_day") / "month"
    generate(root, days=DAYS, seed=11, per_day=30, start=START)
    return root


def landing_of(month: Path, target: Path, *, hotline_days=(), miniprogram_days=(), reception=True) -> Path:
    """A landing folder holding only the named deliveries of the generated month (mtimes kept)."""
    wanted = [p for d in hotline_days for p in (month / "hotline").glob(f"*_{d:%Y%m%d}.csv")]
    wanted += [p for d in miniprogram_days for p in (month / "miniprogram").glob(f"*_{d:%Y%m%d}.jsonl")]
    if reception:
        wanted += sorted((month / "reception").iterdir())
    for path in wanted:
        (target / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / path.parent.name / path.name)
    return target


def rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def briefing_rows(url: str, briefing_date: dt.date, section: str | None = None) -> list[dict]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            "select * from marts.rpt_dispatch_briefing where briefing_date = %s and (%s::text is null or section = %s) "
            "and street_id is null "  # the district's
            "order by section, item_rank, series_date, source_channel, community_id, category_code",
            (briefing_date, section, section))
        names = [c.name for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def by_channel(url: str, briefing_date: dt.date) -> dict[str, dict]:
    return {r["source_channel"]: r for r in briefing_rows(url, briefing_date, "received_by_channel")}


def raw_orders(url: str, line: str, day: dt.date) -> int:
    """Distinct work orders of a hotline line received on a day, as loaded (independent of dbt)."""
    return rows(url, """select count(distinct work_order_id) from raw.hotline_work_orders
                         where intake_line = %s and (received_at at time zone 'Asia/Shanghai')::date = %s""",
                line, day)[0][0]


def counts_add_up(url: str) -> None:
    bad = rows(url, "select file_id from ops.ingested_files where rows_in <> rows_loaded + rows_quarantined")
    assert bad == []
    for table in ("raw.hotline_work_orders", "raw.miniprogram_tickets", "raw.reception_entries"):
        mismatched = rows(url, f"""select f.file_id from ops.ingested_files f
                                    left join (select file_id, count(*) n from {table} group by file_id) r using (file_id)
                                   where f.channel = %s and coalesce(r.n, 0) <> f.rows_loaded""",
                          table.split(".")[1].split("_")[0])
        assert mismatched == [], table


def test_the_runs_day_bounds_the_briefing_not_the_newest_record(month, tmp_path, fresh_warehouse):
    """The issue's repro: the hotline exports of 15 and 16 July and July workbooks running to 22 July."""
    landing = landing_of(month, tmp_path / "landing", hotline_days=(DAY - dt.timedelta(days=1), DAY))
    summary = run(landing, day=DAY)
    assert summary.run_day == DAY
    assert any("day:      2026-07-16" in line for line in summary.lines())
    assert rows(fresh_warehouse, "select run_day, as_of, state from ops.pipeline_runs") == [
        (DAY, dt.datetime(2026, 7, 17, tzinfo=dt.timezone(dt.timedelta(hours=8))), "success")]

    assert rows(fresh_warehouse, "select distinct briefing_date, data_date from marts.rpt_dispatch_briefing") == [
        (DAY + dt.timedelta(days=1), DAY)]
    channels = by_channel(fresh_warehouse, DAY + dt.timedelta(days=1))
    for code, line in (("hotline_12345", "12345"), ("hotline_400", "400")):
        assert channels[code]["value"] == raw_orders(fresh_warehouse, line, DAY) > 0
        assert channels[code]["previous_value"] == raw_orders(fresh_warehouse, line, DAY - dt.timedelta(days=1))
        assert not channels[code]["is_incomplete"]
    assert channels["reception"]["value"] > 0

    # the workbooks' later entries are loaded and kept, but count from their own day on
    later = rows(fresh_warehouse, "select count(*) from marts.fct_complaints where received_date > %s", DAY)[0][0]
    assert later > 0
    assert rows(fresh_warehouse, "select max(date_day) from marts.fct_community_category_daily")[0][0] == DAY
    assert rows(fresh_warehouse, "select max(series_date) from marts.rpt_dispatch_briefing")[0][0] == DAY
    month_rows = rows(fresh_warehouse, """select sum(received_orders) from marts.mart_three_rates
                                           where period_grain = 'month' and area_level = 'street'
                                             and channel_scope = 'reception'""")[0][0]
    day_rows = rows(fresh_warehouse, """select sum(received_orders) from marts.mart_three_rates
                                         where period_grain = 'day' and area_level = 'street'
                                           and channel_scope = 'reception'""")[0][0]
    assert month_rows == day_rows

    # the mini-program sent nothing: no figure, not 0, and a notice that says so
    assert channels["miniprogram"]["value"] is None and channels["miniprogram"]["is_incomplete"]
    notices = [r["detail_zh"] for r in briefing_rows(fresh_warehouse, DAY + dt.timedelta(days=1), "data_notice")]
    assert "物业小程序 7月16日 数据未到（应于7月17日 06:00前送达）" in notices
    assert any(line.startswith("WARNING:  物业小程序 7月16日 数据未到") for line in summary.lines())
    status = rows(fresh_warehouse, """select status, files from marts.mart_delivery_status
                                       where delivery_id = 'hotline_12345' and covers_day = %s""", DAY)
    landed = dt.datetime.fromtimestamp(next((landing / "hotline").glob("12345_*16.csv")).stat().st_mtime,
                                       dt.timezone.utc)
    due = dt.datetime(2026, 7, 17, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert status == [("late" if landed > due else "arrived", 1)]
    counts_add_up(fresh_warehouse)

    # dbt source freshness reads the same seed: a day before the next delivery falls due
    from minqing import config, transform

    transform.run_dbt("source", "freshness", "--select", "source:raw.hotline_work_orders")
    results = json.loads((config.home() / "dbt" / "target" / "sources.json").read_text())["results"]
    (hotline,) = [r for r in results if r["unique_id"].endswith("hotline_work_orders")]
    assert dt.datetime.fromisoformat(hotline["max_loaded_at"]) == dt.datetime(
        2026, 7, 17, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # the 17th's export is due on the 18th, 06:00
    assert hotline["status"] == "error"  # months ago, by today's clock

    # without --date the run's day is the newest day a daily delivery covers, not the workbooks' 22 July
    assert cli.main(["run", "--landing", str(landing)]) == 0
    assert rows(fresh_warehouse, "select run_day from ops.pipeline_runs order by started_at desc limit 1") == [(DAY,)]


def test_a_missing_hotline_day_is_shown_as_missing_on_the_page(month, tmp_path, fresh_warehouse):
    missing = DAY - dt.timedelta(days=1)
    landing = landing_of(month, tmp_path / "landing", hotline_days=(DAY - dt.timedelta(days=2), DAY),
                         miniprogram_days=(DAY - dt.timedelta(days=2), missing, DAY))
    run(landing, day=DAY)
    meeting = DAY + dt.timedelta(days=1)
    channels = by_channel(fresh_warehouse, meeting)
    known = {}  # the missing day's orders the warehouse still knows, from the next day's export
    for code, line in (("hotline_12345", "12345"), ("hotline_400", "400")):
        known[code] = raw_orders(fresh_warehouse, line, missing)
        # what is known is shown, marked incomplete; a day of which nothing is known has no figure, not 0
        assert channels[code]["previous_value"] == (known[code] or None), code
        assert channels[code]["previous_is_incomplete"]
        assert channels[code]["value"] > 0 and not channels[code]["is_incomplete"]
    trend = {(r["source_channel"], r["series_date"]): r
             for r in briefing_rows(fresh_warehouse, meeting, "volume_trend")}
    assert trend[("hotline_12345", missing)]["value"] == (known["hotline_12345"] or None)
    assert trend[("hotline_12345", missing)]["is_incomplete"]
    assert trend[("miniprogram", missing)]["value"] is not None
    assert not trend[("miniprogram", missing)]["is_incomplete"]

    assert cli.main(["briefing", "--date", meeting.isoformat(), "--out", str(tmp_path / "out"), "--no-pdf"]) == 0
    page_path = tmp_path / "out" / f"briefing_{meeting}.html"
    with chromium_page() as (page, problems, _):
        page.goto(page_path.as_uri(), wait_until="load")
        notices = page.inner_text("#data-notices")
        cells = page.eval_on_selector_all(
            "[data-section='received_by_channel'][data-field='previous_value']",
            "els => els.map(e => [e.closest('tr').cells[0].textContent.trim(), e.closest('td').textContent.trim()])")
    assert problems == []
    assert "12345热线 7月15日 数据未到（应于7月16日 06:00前送达）" in notices
    assert "400热线 7月15日 数据未到" in notices
    shown = dict(cells)
    for label, code in (("12345热线", "hotline_12345"), ("400热线", "hotline_400")):
        assert shown[label] == (f"{known[code]:,}不完整" if known[code] else "未到"), shown
    assert shown["物业小程序"].isdigit()  # complete: a plain figure


def test_a_failed_batch_is_held_back_then_released_or_rejected(month, tmp_path, fresh_warehouse, monkeypatch, capsys):
    landing = landing_of(month, tmp_path / "landing", hotline_days=(DAY,), miniprogram_days=(DAY,))
    # with a negative quality.max_failing_share every batch fails as a whole
    import quality.channels

    allowed = quality.channels.max_failing_share
    monkeypatch.setattr(quality.channels, "max_failing_share", lambda: -1.0)
    summary = run(landing, day=DAY)
    assert set(summary.failed_channels) == {"hotline", "miniprogram", "reception"}
    assert cli.main(["held", "list"]) == 0
    listed = capsys.readouterr().out
    held = rows(fresh_warehouse, "select file_id, channel, rows_loaded from ops.ingested_files where status = 'held' "
                                 "order by file_id")
    assert held and all(f"{file_id:>6}  {channel}" in listed for file_id, channel, _ in held)
    assert rows(fresh_warehouse, "select state from ops.pipeline_runs") == [("failed",)]
    # nothing of a held file reaches staging, the marts or the briefing, which says why
    assert rows(fresh_warehouse, "select count(*) from marts.fct_complaints")[0][0] == 0
    notices = [r["detail_zh"] for r in briefing_rows(fresh_warehouse, DAY + dt.timedelta(days=1), "data_notice")]
    assert any(n.startswith("12345热线 7月16日 校验未通过，暂缓发布，待人工审核") for n in notices)
    assert by_channel(fresh_warehouse, DAY + dt.timedelta(days=1))["hotline_12345"]["value"] is None
    counts_add_up(fresh_warehouse)
    monkeypatch.setattr(quality.channels, "max_failing_share", allowed)

    hotline_files = [(f, n) for f, c, n in held if c == "hotline"]
    miniprogram_file, miniprogram_rows = next((f, n) for f, c, n in held if c == "miniprogram")
    for file_id, _ in hotline_files:
        assert cli.main(["held", "release", str(file_id), "--reason", "checked by hand: the rule was misread",
                         "--by", "analyst"]) == 0
    assert cli.main(["held", "reject", str(miniprogram_file), "--reason", "the pull broke off", "--by", "analyst"]) == 0
    assert cli.main(["held", "release", str(miniprogram_file), "--reason", "again"]) == 2  # no longer held
    counts_add_up(fresh_warehouse)
    rejected = rows(fresh_warehouse, """select count(*), min(reason) from raw.quarantine
                                         where file_id = %s and stage = 'review'""", miniprogram_file)[0]
    assert rejected[0] == miniprogram_rows
    assert rejected[1] == "rejected by analyst after the batch was held: the pull broke off"
    assert rows(fresh_warehouse, "select status, rows_loaded, rows_quarantined - %s >= 0 from ops.ingested_files "
                                 "where file_id = %s", miniprogram_rows, miniprogram_file) == [("quarantined", 0, True)]
    decisions = rows(fresh_warehouse, "select decision, decided_by from ops.file_decisions order by decision_id")
    assert [d for d, _ in decisions].count("held") == len(held)
    assert ("rejected", "analyst") in decisions and ("released", "analyst") in decisions

    # the next run builds the released rows; the rejected file, delivered again, is still a duplicate
    (landing / "miniprogram" / "copy.jsonl").write_bytes(
        next((landing / "miniprogram").glob(f"*_{DAY:%Y%m%d}.jsonl")).read_bytes())
    summary = run(landing, day=DAY)
    assert summary.failed_channels == {}
    assert {f["status"] for f in summary.files if f["channel"] == "miniprogram"} == {"duplicate"}
    channels = by_channel(fresh_warehouse, DAY + dt.timedelta(days=1))
    assert channels["hotline_12345"]["value"] == raw_orders(fresh_warehouse, "12345", DAY) > 0
    assert channels["miniprogram"]["value"] == 0 or channels["miniprogram"]["value"] is None
    counts_add_up(fresh_warehouse)


def test_published_briefings_survive_a_rebuild_and_a_backfill_gives_that_days_briefing(month, tmp_path,
                                                                                       fresh_warehouse):
    days = [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
    delivered = [days[0] - dt.timedelta(days=1), *days]
    landing = landing_of(month, tmp_path / "landing", hotline_days=delivered, miniprogram_days=delivered)
    published = {}
    for day in days:
        run(landing, day=day)
        published[day + dt.timedelta(days=1)] = briefing_rows(fresh_warehouse, day + dt.timedelta(days=1))
    assert all(published.values())

    assert cli.main(["rebuild"]) == 0
    for meeting, before in published.items():
        assert briefing_rows(fresh_warehouse, meeting) == before, meeting
    # the rebuild is as of the newest run's day, and every archived day renders again
    assert rows(fresh_warehouse, "select max(briefing_date) from marts.rpt_dispatch_briefing")[0][0] == DAY + dt.timedelta(days=1)
    first = days[0] + dt.timedelta(days=1)
    written = briefing.write(first, tmp_path / "out", pdf=False)
    assert written["html"].name == f"briefing_{first}.html"

    # a backfill of the first day, with every later file already in: that day's briefing, as of that day
    # (its figures from every record of that day the warehouse holds); the other days stay as published
    run(landing, day=days[0])
    again = by_channel(fresh_warehouse, first)
    assert again["hotline_12345"]["value"] == raw_orders(fresh_warehouse, "12345", days[0]) > 0
    assert again["hotline_400"]["previous_value"] == raw_orders(fresh_warehouse, "400", days[0] - dt.timedelta(days=1))
    assert rows(fresh_warehouse, "select distinct data_date, as_of_at from marts.rpt_dispatch_briefing "
                                 "where briefing_date = %s", first) == [
        (days[0], dt.datetime(2026, 7, 15, tzinfo=dt.timezone(dt.timedelta(hours=8))))]
    for meeting in list(published)[1:]:
        assert briefing_rows(fresh_warehouse, meeting) == published[meeting], meeting


def test_a_record_dated_implausibly_after_its_delivery_is_quarantined_with_the_reason(tmp_path, fresh_warehouse):
    from ingestion.loader import ingest
    from conftest import HOTLINE_HEADER, write_csv

    def order(order_id: str, received: str) -> dict:
        return {"工单编号": order_id, "来源": "12345", "来电时间": received, "诉求类型": "投诉", "诉求内容": "楼道灯坏了",
                "诉求地址": "望园社区3号楼", "所属街道": "六里桥街道", "所属社区": "望园社区", "办理状态": "已派单",
                "更新时间": received}

    write_csv(tmp_path / "landing" / "hotline" / "12345_20260716.csv", HOTLINE_HEADER, [
        order("GD2026071600001", "2026-07-16 09:00:00"),
        order("GD2026071600002", "2026-07-17 00:30:00"),   # written after midnight: within a day, loaded
        order("GD2026071600003", "2026-07-25 08:00:00"),   # nine days after the file's day: implausible
    ])
    (report,) = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_in, report.rows_loaded, report.rows_quarantined) == (3, 2, 1)
    (reason,) = rows(fresh_warehouse, "select reason from raw.quarantine where source_record_id = 'GD2026071600003'")
    assert reason[0].startswith("received_at is 2026-07-25, 9 days after the last day this file covers (2026-07-16")
    assert "ingestion.days_past_delivery" in reason[0]
    assert rows(fresh_warehouse, "select covers_from, covers_to from ops.ingested_files") == [
        (dt.date(2026, 7, 16), dt.date(2026, 7, 16))]


def test_the_run_estimates_the_seeds_interventions_and_publishes_them(month, tmp_path, fresh_warehouse, capsys):
    """Issue 20: the daily run's effects stage and marts.mart_intervention_effects. The seed's interventions
    started long before this month: rows that say so. Moved into the month (as an analyst would record one),
    the next run estimates it, and the mart says what `minqing effect --json` says."""
    from minqing import pipeline

    last = START + dt.timedelta(days=DAYS - 1)
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    landing = landing_of(month, tmp_path / "landing", hotline_days=days, miniprogram_days=days)
    summary = run(landing, day=last)
    assert summary.effects["interventions"] == 3 and summary.effects["estimated"] == 5
    assert any(line.startswith("effects:  3 interventions: 5 estimates made") for line in summary.lines())
    published = rows(fresh_warehouse, """select intervention_id, category_code, method, effect_pct, pre_weeks,
                                                 warnings, community_names, category_name_zh
                                            from marts.mart_intervention_effects order by 1, 2, 3""")
    assert len(published) == 10 and all(r[3] is None and r[4] == 0 for r in published)  # no week before
    assert all(any(w.endswith("无法估计") for w in r[5]) for r in published), published
    names = {(r[0], r[1]): (r[6], r[7]) for r in published}
    assert names["jinguanjia", "all"] == ("保利益丰社区、西局玉园社区", "目标类别合计（物业服务、水电气）")
    assert names["zongheng", "all"] == ("六南社区", "全部类别") and names["changlao", "all"][1] == "邻里纠纷"

    # recorded as starting on the month's second complete week: one week before, one after
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        conn.execute("update reference.interventions set start_date = '2026-07-13' where intervention_id = 'changlao'")
    assert pipeline.effects()["estimated"] == 1
    pipeline.build_after_forecast(pipeline.as_of_for(last))
    assert cli.main(["effect", "--intervention", "changlao", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (did,) = rows(fresh_warehouse, """select effect_pct, ci_low_pct, ci_high_pct, p_value, pre_weeks, post_weeks,
                                             warnings, reading, donor_ids, is_significant
                                        from marts.mart_intervention_effects
                                       where intervention_id = 'changlao' and method = 'poisson_did'""")
    assert out["effect_pct"] is not None and (out["pre_weeks"], out["post_weeks"]) == (1, 1)
    assert [None if v is None else float(v) for v in did[:4]] == [out[k] for k in ("effect_pct", "ci_low_pct",
                                                                                   "ci_high_pct", "p_value")]
    assert did[4:8] == (1, 1, out["warnings"], out["reading"]) and len(did[8]) == len(out["donors"])
    assert any(w.startswith("干预前只有 1 周") for w in did[6])
    (sc,) = rows(fresh_warehouse, """select effect_pct, warnings from marts.mart_intervention_effects
                                      where intervention_id = 'changlao' and method = 'synthetic_control'""")
    assert sc[0] is None and any(w.startswith("合成对照无法估计") for w in sc[1])
