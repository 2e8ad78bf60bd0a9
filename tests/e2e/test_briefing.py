"""The daily dispatch briefing: the mart's figures against the facts, the problems of the day (一题多件)
against the link stage's, the page in a real headless Chromium (no console errors, nothing fetched
from elsewhere, every figure shown equal to the warehouse's), the PDF, the CSV tables' formula
neutralisation and the CLI's errors.

The screenshot of the rendered page is kept under test-artifacts/ (or MINQING_TEST_ARTIFACTS)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from minqing import cli
from minqing.publishing import briefing
from minqing.publishing.exports import neutralise, to_csv
from minqing.devtools.generate import generate

from conftest import ARTIFACTS, chromium_page, chromium_path, migrated_database
from linking_scenario import AS_OF_10, AS_OF_11, WY, run_day, scenario_database, write_day_10, write_day_11

START, DAYS = dt.date(2026, 6, 20), 40
DATA_DATE = START + dt.timedelta(days=DAYS - 1)
BRIEFING_DATE = DATA_DATE + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def built(server_url, tmp_path_factory):
    """One warehouse with 40 generated days through the whole pipeline (built once for the module)."""
    from minqing.pipeline import run

    landing = tmp_path_factory.mktemp("briefing") / "landing"
    generate(landing, days=DAYS, seed=23, per_day=25, start=START)
    with migrated_database(server_url) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        run(landing)
        yield url


@pytest.fixture()
def on_built(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", built)
    return built


def _rows(url: str, section: str) -> list[dict]:
    with psycopg.connect(url) as conn:
        # the district's rows (street_id null): a one-street warehouse's street has the same figures as its own
        cursor = conn.execute("select * from marts.rpt_dispatch_briefing where briefing_date = %s and section = %s "
                              "and street_id is null order by item_rank", (BRIEFING_DATE, section))
        names = [c.name for c in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def _one(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def test_briefing_mart_holds_the_day_after_the_data_and_its_figures_match_the_facts(built):
    summary = {r["metric"]: r for r in _rows(built, "summary")}
    assert {r["data_date"] for r in summary.values()} == {DATA_DATE}
    received = _one(built, "select count(*) from marts.fct_complaints where received_date = %s", DATA_DATE)
    day_before = _one(built, "select count(*) from marts.fct_complaints where received_date = %s",
                      DATA_DATE - dt.timedelta(days=1))
    proactive = _one(built, "select count(*) from marts.fct_complaints where received_date = %s and is_proactive",
                     DATA_DATE)
    assert summary["received"]["value"] == received > 0
    assert summary["received"]["previous_value"] == day_before
    assert summary["proactive_found"]["value"] == proactive
    assert summary["complaints"]["value"] == received - proactive
    assert summary["proactive_share"]["value"] == round(Decimal(proactive) / received, 4)
    overdue = _one(built, "select count(*) from marts.fct_complaints where is_overdue and closed_at is null "
                          "and status not in ('closed', 'cancelled')")
    assert summary["overdue_open"]["value"] == overdue
    assert summary["early_warnings"]["value"] == _one(built, "select count(*) from marts.rpt_early_warnings")

    by_channel = {r["source_channel"]: r["value"] for r in _rows(built, "received_by_channel")}
    facts = dict(_one_rows(built, "select source_channel, count(*) from marts.fct_complaints "
                                  "where received_date = %s group by 1", DATA_DATE))
    assert by_channel == {c: facts.get(c, 0) for c in ("hotline_12345", "hotline_400", "miniprogram", "reception")}
    assert sum(r["value"] for r in _rows(built, "received_by_community")) == received
    assert sum(r["value"] for r in _rows(built, "received_by_category")) == received

    trend = _rows(built, "volume_trend")
    assert len({r["series_date"] for r in trend}) == 30 and max(r["series_date"] for r in trend) == DATA_DATE
    in_window = _one(built, "select count(*) from marts.fct_complaints where received_date between %s and %s",
                     DATA_DATE - dt.timedelta(days=29), DATA_DATE)
    # a channel-day with no delivery in and no record has no figure (never 0), and is marked incomplete
    assert all(r["is_incomplete"] for r in trend if r["value"] is None)
    assert sum(r["value"] or 0 for r in trend) == in_window

    overdue_list = _rows(built, "overdue_order")
    assert len(overdue_list) == min(overdue, 30)
    hours = [r["value"] for r in overdue_list]
    assert hours == sorted(hours, reverse=True) and all(h > 0 for h in hours)
    assert all(r["handling_unit"] and r["source_record_id"] for r in overdue_list)

    rates = {r["metric"]: r for r in _rows(built, "three_rates")}
    month = _one_rows(built, "select response_rate, resolution_rate, satisfaction_rate, composite_score "
                             "from marts.mart_three_rates where period_grain = 'month' and area_level = 'street' "
                             "and channel_scope = 'ranked' and period_start = %s", DATA_DATE.replace(day=1))[0]
    assert [rates[m]["value"] for m in ("response_rate", "resolution_rate", "satisfaction_rate", "composite_score")
            ] == list(month)

    for rise in _rows(built, "sentiment_rise"):
        assert rise["value"] > rise["previous_value"] and rise["detail_zh"]


def test_briefing_counts_the_days_problems_and_lists_those_reported_again(built):
    """The generator reports some problems again, by the same resident or a neighbour through another
    channel: the summary counts the data day's demands as problems, and 一题多件 lists every problem of
    the data day with 2 or more reports, with its first report, people, channels and state."""
    summary = {r["metric"]: r for r in _rows(built, "summary")}
    per_day = dict(_one_rows(built, "select received_date, count(distinct problem_id) from marts.fct_problem_reports "
                                    "where received_date >= %s group by 1", DATA_DATE - dt.timedelta(days=1)))
    problems = summary["problems_received"]
    assert problems["value"] == per_day[DATA_DATE] > 0
    assert problems["previous_value"] == per_day[DATA_DATE - dt.timedelta(days=1)]
    assert problems["value"] <= summary["received"]["value"]
    assert problems["metric_zh"] and problems["item_rank"] == summary["received"]["item_rank"] + 1

    listed = _rows(built, "repeat_problem")
    limit = int(_one(built, "select value from reference.briefing_settings where setting = 'repeat_problem_list_limit'"))
    expected = _repeat_problems(built, limit)
    assert expected, "a generated month has problems reported more than once on its last day"
    assert [(r["problem_id"], r["value"], r["previous_value"]) for r in listed] == expected
    assert [r["item_rank"] for r in listed] == list(range(1, len(listed) + 1))

    channels = dict(_one_rows(built, "select code, label_zh from reference.briefing_labels where kind = 'channel'"))
    order = dict(_one_rows(built, "select code, sort_order from reference.briefing_labels where kind = 'channel'"))
    methods = dict(_one_rows(built, "select distinct method_code, method_name_zh from reference.reception_methods"))
    for row in listed:
        problem = _problem(built, row["problem_id"])
        # the problem as fct_problems has it (a run's as-of moment is the end of its data day, nothing came after)
        assert row["value"] == problem["report_count"]
        assert (row["community_id"], row["category_code"], row["complaint_id"], row["source_channel"]) == (
            problem["community_id"], problem["category_code"], problem["first_complaint_id"], problem["first_channel"])
        assert row["source_record_id"] and row["community_name"] and row["category_name_zh"] and row["handling_unit"]
        first_by = (methods[problem["first_proactive_method"]] if problem["first_is_proactive"]
                    else channels[problem["first_channel"]])
        day = problem["first_received_date"]
        people = f"，{problem['complainant_count']}人反映" if problem["complainant_count"] else ""
        used = "、".join(channels[c] for c in sorted(problem["channels"].split(","), key=order.get))
        n, open_ = problem["report_count"], problem["open_report_count"]
        state = ("未办结" if open_ == n else f"未办结{open_}件" if open_ else
                 "已办结" if problem["closed_reports"] else "已撤销")
        assert row["detail_zh"] == f"{n}件：首报{first_by}（{day.month}月{day.day}日）{people}，渠道：{used}；{state}"


# -- 一题多件 by hand: the 望园社区 burst pipe of tests/linking_scenario.py, day by day --------------------------
# 望园社区 × 排水管道, Beijing time. 10 July: a patrol finds a burst pipe in 3号楼's stairwell (R1, open), two
# residents call 12345 about it (H1 phone X, open; H2 phone Y, closed at 18:00); near-misses N1 (3号楼's sewer)
# and O1 (the burst pipe's words at 5号楼); 8号楼's septic tank twice, in words too unlike to link (M1 V, M2 Z).
# 11 July: phone X again about the pipe (H3); 8号楼's septic tank in both reports' words (M3 Y), which merges
# M2's problem into M1's.

MEETING_11, MEETING_12 = dt.date(2026, 7, 11), dt.date(2026, 7, 12)


@pytest.fixture(scope="module")
def burst_pipe(server_url, tmp_path_factory):
    """The briefings of 11 July (data of the 10th) and 12 July, then of 11 July again by a backfill run."""
    landing = tmp_path_factory.mktemp("burst_pipe") / "landing"
    with scenario_database(server_url) as url:
        published = {}
        write_day_10(landing)
        run_day(url, landing, AS_OF_10)
        published[MEETING_11] = _briefing_of(url, MEETING_11)
        write_day_11(landing)
        run_day(url, landing, AS_OF_11)
        published[MEETING_12] = _briefing_of(url, MEETING_12)
        run_day(url, landing, AS_OF_10)  # a backfill of the 10th, with the 11th's reports and links in
        yield {"url": url, "published": published, "backfilled": _briefing_of(url, MEETING_11),
               "kept": _briefing_of(url, MEETING_12)}


def _briefing_of(url: str, meeting: dt.date) -> dict[str, list[dict]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute("select * from marts.rpt_dispatch_briefing where briefing_date = %s "
                              "and street_id is null order by section, item_rank", (meeting,))
        names = [c.name for c in cursor.description]
        sections: dict[str, list[dict]] = {}
        for values in cursor.fetchall():
            row = dict(zip(names, values))
            sections.setdefault(row["section"], []).append(row)
        return sections


def _problem_of(url: str, order_id: str) -> str:
    return _one(url, """select problem_id from marts.fct_problem_reports join marts.fct_complaints using (complaint_id)
                        where source_record_id = %s""", order_id)


def test_a_problem_reported_again_is_counted_once_and_listed_with_its_reports(burst_pipe):
    url, published = burst_pipe["url"], burst_pipe["published"]
    pipe, septic = _problem_of(url, "GD2026071000001"), _problem_of(url, "GD2026071000005")
    patrol = _one(url, "select complaint_id from marts.fct_complaints where source_channel = 'reception'")

    def summary(meeting, metric):
        row = next(r for r in published[meeting]["summary"] if r["metric"] == metric)
        return row["value"], row["previous_value"]

    # the 10th: 7 demands, 5 problems (R1, H1 and H2 are the burst pipe); the 11th: 2 demands of 2 problems,
    # and the 10th counted with the links of the 11th: 4 problems, M1 and M2 being one since M3 merged them
    assert summary(MEETING_11, "received")[0] == 7 and summary(MEETING_11, "problems_received")[0] == 5
    assert summary(MEETING_12, "received") == (2, 7) and summary(MEETING_12, "problems_received") == (2, 4)

    def listed(rows):
        return [(r["problem_id"], r["value"], r["previous_value"], r["community_name"], r["category_name_zh"],
                 r["source_channel"], r["complaint_id"], r["detail_zh"]) for r in rows]

    assert listed(published[MEETING_11]["repeat_problem"]) == [
        (pipe, 3, 3, WY, "排水管道", "reception", patrol,
         "3件：首报日常巡查（7月10日），2人反映，渠道：12345热线、接待日；未办结2件")]
    # the 11th: H3 makes 4 reports of the pipe (H2 closed), M3 3 of the septic tank (M2's problem merged into M1's)
    first_septic = _one(url, "select complaint_id from marts.fct_complaints where source_record_id = 'GD2026071000005'")
    assert listed(published[MEETING_12]["repeat_problem"]) == [
        (pipe, 4, 1, WY, "排水管道", "reception", patrol,
         "4件：首报日常巡查（7月10日），2人反映，渠道：12345热线、接待日；未办结3件"),
        (septic, 3, 1, WY, "排水管道", "hotline_12345", first_septic,
         "3件：首报12345热线（7月10日），3人反映，渠道：12345热线；未办结")]
    assert [r["item_rank"] for r in published[MEETING_12]["repeat_problem"]] == [1, 2]
    assert published[MEETING_12]["repeat_problem"][1]["source_record_id"] == "GD2026071000005"

    # a backfill of the 10th lists the problems as they stood that evening (the pipe's 3 reports, H3 not yet
    # in), with today's links: M1 and M2 are one problem since the merge. The 12th stays as published.
    backfilled = listed(burst_pipe["backfilled"]["repeat_problem"])
    assert backfilled[0] == listed(published[MEETING_11]["repeat_problem"])[0]
    assert backfilled[1][:3] == (septic, 2, 2)
    assert burst_pipe["kept"] == published[MEETING_12]


def _repeat_problems(url: str, limit: int) -> list[tuple]:
    """(problem_id, reports by the data day, reports of the data day) of the problems with a report on the
    data day and at least 2 in all, most reports first, from the link stage's reports."""
    return _one_rows(url, """
        select problem_id, count(*), count(*) filter (where received_date = %s)
        from marts.fct_problem_reports
        where problem_id in (select problem_id from marts.fct_problem_reports where received_date = %s)
          and received_date <= %s
        group by problem_id
        having count(*) >= 2
        order by count(*) desc, problem_id
        limit %s""", DATA_DATE, DATA_DATE, DATA_DATE, limit)


def _problem(url: str, problem_id: str) -> dict:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            "select problems.*, (select count(*) from marts.fct_problem_reports as reports "
            "                    join marts.fct_complaints as complaints using (complaint_id) "
            "                    where reports.problem_id = problems.problem_id and complaints.status = 'closed'"
            "                   ) as closed_reports "
            "from marts.fct_problems as problems where problem_id = %s", (problem_id,))
        names = [c.name for c in cursor.description]
        return dict(zip(names, cursor.fetchone()))


def _one_rows(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_briefing_page_renders_in_headless_chromium_and_shows_the_warehouse_figures(on_built, tmp_path, capsys):
    chromium_path()
    assert cli.main(["briefing", "--date", BRIEFING_DATE.isoformat(), "--out", str(tmp_path), "--no-pdf"]) == 0
    page_path = tmp_path / f"briefing_{BRIEFING_DATE}.html"
    assert page_path.exists()

    with psycopg.connect(on_built) as conn:
        cursor = conn.execute("select * from marts.rpt_dispatch_briefing where briefing_date = %s "
                              "and street_id is null", (BRIEFING_DATE,))
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
    expected = {}
    for row in rows:
        for field in ("value", "previous_value"):
            expected[(row["section"], briefing.row_key(row), field)] = row[field]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as (page, problems, requests):
        page.goto(page_path.as_uri(), wait_until="load")
        shown = page.eval_on_selector_all(
            "[data-value]", "els => els.map(e => [e.dataset.section, e.dataset.key, e.dataset.field, "
                            "e.dataset.value, e.textContent.trim()])")
        title = page.title()
        page.screenshot(path=str(ARTIFACTS / f"briefing_{BRIEFING_DATE}.png"), full_page=True)

    assert problems == []
    assert requests == [page_path.as_uri()]  # self-contained: nothing fetched from anywhere else
    assert title == f"每日调度简报 {BRIEFING_DATE}"
    assert len(shown) > 100
    seen = set()
    for section, key, field, value, text in shown:
        assert (section, key, field) in expected, (section, key, field)
        truth = expected[(section, key, field)]
        assert (Decimal(value) if value else None) == truth, (section, key, field, value, truth)
        assert text, (section, key, field)
        seen.add((section, key))
    # every row of the day is on the page, and what is written is the warehouse's figure, formatted
    assert seen == {(r["section"], briefing.row_key(r)) for r in rows}
    texts = {(s, k, f): t for s, k, f, _, t in shown}
    summary = {r["metric"]: r for r in rows if r["section"] == "summary"}
    received = summary["received"]
    assert texts[("summary", briefing.row_key(received), "value")] == f"{int(received['value']):,}"
    share = summary["proactive_share"]
    assert texts[("summary", briefing.row_key(share), "value")] == f"{share['value'] * 100:.1f}%"
    problems = summary["problems_received"]
    assert texts[("summary", briefing.row_key(problems), "value")] == f"{int(problems['value']):,}"
    repeats = [r for r in rows if r["section"] == "repeat_problem"]
    assert repeats and all(texts[("repeat_problem", briefing.row_key(r), "value")] == f"{int(r['value']):,}"
                           for r in repeats)


def test_briefing_prints_to_pdf(on_built, tmp_path):
    chromium_path()
    written = briefing.write(BRIEFING_DATE, tmp_path, pdf=True)
    pdf = written["pdf"]
    assert pdf and pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    csvs = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert len(csvs) == len(briefing.TABLES)
    overdue = (tmp_path / f"{BRIEFING_DATE:%Y%m%d}_超期未办结工单.csv").read_text(encoding="utf-8")
    assert overdue.startswith("\ufeff工单编号,")
    repeats = (tmp_path / f"{BRIEFING_DATE:%Y%m%d}_一题多件.csv").read_text(encoding="utf-8").splitlines()
    assert repeats[0].startswith("\ufeff问题编号,社区,类别,")
    assert len(repeats) == 1 + len(_rows(on_built, "repeat_problem")) > 1


def test_a_one_street_warehouse_publishes_one_briefing_and_renders_its_street_on_demand(on_built, tmp_path,
                                                                                       monkeypatch, capsys):
    """A street's own install (one street, no configuration): the DAG's publish writes the one briefing as before;
    `minqing briefing --street` renders the street's, whose figures are the district's (the same street)."""
    from minqing import pipeline

    monkeypatch.setattr(briefing, "chromium_executable", lambda: None)
    written = pipeline.publish_briefing(tmp_path / "dag")
    assert written["streets"] == {} and [p.name for p in (tmp_path / "dag").iterdir() if p.is_dir()] == []
    assert cli.main(["briefing", "--street", "liuliqiao", "--out", str(tmp_path / "cli"), "--no-pdf"]) == 0
    page = tmp_path / "cli" / "liuliqiao" / f"briefing_{BRIEFING_DATE}.html"
    assert str(page) in capsys.readouterr().out
    assert "<h1>六里桥街道诉求中心" in page.read_text(encoding="utf-8")
    street, district = briefing.load(street_id="liuliqiao"), briefing.load()
    assert street.street_name == "六里桥街道" and district.street_id is None
    figures = lambda b: sorted((r["section"], briefing.row_key(r), r["value"], r["previous_value"]) for r in b.rows)  # noqa: E731
    assert figures(street) == figures(district)
    assert cli.main(["briefing", "--street", "nowhere", "--out", str(tmp_path / "cli"), "--no-pdf"]) == 2
    assert "no street 'nowhere'" in capsys.readouterr().err


def test_briefing_for_a_day_not_held_says_which_days_are(on_built, tmp_path, capsys):
    assert cli.main(["briefing", "--date", "2020-01-01", "--out", str(tmp_path), "--no-pdf"]) == 2
    err = capsys.readouterr().err
    assert "no briefing for 2020-01-01" in err and BRIEFING_DATE.isoformat() in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("payload", ["=1+1", "+8613800000000", "-2+3", "@SUM(A1)", "\t=cmd", "=HYPERLINK(\"x\")"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(payload):
    assert neutralise(payload) == "'" + payload
    text = to_csv(["说明"], [[payload], [-2], ["普通文本"]])
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[2] == "-2" and lines[3] == "普通文本"  # numbers stay numbers, plain text untouched
    assert not lines[1].lstrip('"').startswith(("=", "+", "-", "@", "\t"))
