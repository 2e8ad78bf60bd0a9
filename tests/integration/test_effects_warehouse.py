"""`minqing effect` against the warehouse (issue 20): the weekly panel read from the daily aggregate, the
interventions of the seed, the comparison communities left out, the JSON a BI tool or a script reads."""

from __future__ import annotations

import csv
import datetime as dt
import json

import psycopg
import pytest

from minqing import cli, config
from minqing.analytics import effects
from minqing.devtools import effect_eval
from minqing.devtools.generate import COMMUNITIES, Effect

IDS = {"八一厂社区": "bayichang", "六南社区": "liunan", "保利益丰社区": "baoliyifeng", "西局玉园社区": "xijuyuyuan"}
START = effect_eval.FIRST_MONDAY + dt.timedelta(weeks=40)  # a Monday: 40 generated weeks before it


def _seed_rows() -> list[dict]:
    with open(config.seed_path("interventions"), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture()
def warehouse_with_weeks(fresh_warehouse):
    """The three tables `minqing effect` reads, filled from generated weeks with a −40% effect on
    八一厂社区's disputes from START (the marts as dbt builds them have more columns; these are the read ones)."""
    first = START - dt.timedelta(weeks=40)
    categories = ("neighbor_dispute",)
    panel = effect_eval.simulate_panel(2, 60, 150, Effect("八一厂社区", START, -0.4, categories), categories)
    panel.columns = [first + dt.timedelta(weeks=i) for i in range(panel.shape[1])]
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        conn.execute("create schema if not exists marts; create schema if not exists reference")
        conn.execute("create table marts.dim_community (community_id text, community_name text, households int, "
                     "street_id text default 'liuliqiao')")
        conn.execute("create table marts.fct_daily_complaint_counts (received_date date, community_id text, "
                     "category_code text, source_channel text, is_cancelled boolean, reports int, proactive_reports int)")
        conn.execute("create table marts.dim_issue_category (category_code text, category_name_zh text)")
        with open(config.DBT_PROJECT_DIR / "seeds" / "issue_categories.csv", encoding="utf-8", newline="") as fh:
            conn.cursor().executemany("insert into marts.dim_issue_category values (%s, %s)",
                                      [(r["category_code"], r["category_name_zh"]) for r in csv.DictReader(fh)])
        conn.execute("create table reference.interventions (intervention_id text, name text, community_ids text, "
                     "start_date date, end_date date, categories text, what text, dates_invented boolean, notes text)")
        ids = {c.name: IDS.get(c.name, f"c{i}") for i, c in enumerate(COMMUNITIES)}
        with conn.cursor() as cur:
            cur.executemany("insert into marts.dim_community (community_id, community_name) values (%s, %s)", [(i, n) for n, i in ids.items()])
            # each week's complaints on its Wednesday; a cancelled and a proactive row that must not count
            cur.executemany("insert into marts.fct_daily_complaint_counts values (%s, %s, 'neighbor_dispute', "
                            "'hotline_12345', false, %s, 0)",
                            [(week + dt.timedelta(days=2), ids[name], int(n)) for name, row in panel.iterrows()
                             for week, n in row.items() if n])
            cur.execute("insert into marts.fct_daily_complaint_counts values (%s, 'bayichang', 'neighbor_dispute', "
                        "'reception', false, 5, 5), (%s, 'bayichang', 'neighbor_dispute', 'hotline_12345', true, 50, 0), "
                        "(%s, 'bayichang', 'noise', 'hotline_12345', false, 70, 0)", (START, START, START))
            for row in _seed_rows():
                cur.execute("insert into reference.interventions values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                            (row["intervention_id"], row["name"], row["community_ids"], row["start_date"],
                             row["end_date"] or None, row["categories"], row["what"], row["dates_invented"], row["notes"]))
            cur.execute("update reference.interventions set start_date = %s where intervention_id = 'changlao'", (START,))
    return panel


def test_the_seed_names_communities_and_categories_that_exist():
    known = {c.strip() for c in open(config.seed_path("communities"), encoding="utf-8")
             .read().splitlines()[1:] if c for c in [c.split(",")[0]]}
    codes = {line.split(",")[0] for line in open(config.DBT_PROJECT_DIR / "seeds" / "issue_categories.csv",
                                                 encoding="utf-8").read().splitlines()[1:] if line}
    rows = _seed_rows()
    assert len(rows) >= 3
    for row in rows:
        item = effects.Intervention.from_row(row)
        assert set(item.communities) <= known and set(item.categories) <= codes and item.dates_invented
        assert item.start == dt.date.fromisoformat(row["start_date"]) and item.end is None


def test_the_panel_counts_residents_complaints_of_the_categories_by_complete_week(warehouse_with_weeks):
    from minqing import warehouse

    with warehouse.connect() as conn:
        panel, names, _ = effects.weekly_panel(conn, ("neighbor_dispute",))
    # the rows run from the first week's Wednesday to the last week's: those two weeks are incomplete
    assert names["bayichang"] == "八一厂社区" and len(panel.columns) == 58
    assert panel.columns[0].date() == START - dt.timedelta(weeks=39)
    expected = warehouse_with_weeks.loc["八一厂社区"].to_numpy()[1:59]
    assert panel.loc["bayichang"].tolist() == list(expected)  # cancelled, proactive and noise left out


def test_effect_of_a_seed_intervention_as_json(warehouse_with_weeks, capsys):
    assert cli.main(["effect", "--intervention", "changlao", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for name in ("effect_pct", "ci_low_pct", "ci_high_pct", "p_value", "method", "pre_weeks", "post_weeks", "warnings"):
        assert name in out, name
    assert out["method"] == "poisson_did" and (out["pre_weeks"], out["post_weeks"]) == (39, 19)
    # a few disputes a week: the interval is wide, and holds the truth (tests/unit/test_effects.py checks
    # the power on more complaints)
    assert out["ci_low_pct"] <= -40 <= out["ci_high_pct"] and out["effect_pct"] < 0 and 0 < out["p_value"] <= 1
    assert out["communities"] == ["八一厂社区"] and out["community_ids"] == ["bayichang"] and out["dates_invented"] is True
    assert out["reading"].startswith("八一厂社区「常唠宽心话」干预后诉求估计减少")
    assert out["categories"] == ["neighbor_dispute"] and out["category_names"] == ["邻里纠纷"]


def test_effect_ad_hoc_leaves_out_communities_of_other_interventions(warehouse_with_weeks, capsys):
    assert cli.main(["effect", "--community", "八一厂", "--start", START.isoformat(), "--categories", "neighbor_dispute",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # 纵横共治法 (all categories, in 六南社区) ran in the window: 六南社区 is no fair comparison
    assert "六南社区" not in out["donors"] and any(w.startswith("六南社区 未作对照") for w in out["warnings"])
    assert cli.main(["effect", "--community", "八一厂", "--start", START.isoformat(), "--json"]) == 0
    with pytest.raises(SystemExit, match="no intervention"):
        cli.main(["effect", "--intervention", "nothing"])
    with pytest.raises(ValueError, match="not one community"):
        cli.main(["effect", "--community", "不存在", "--start", START.isoformat()])


def test_the_effects_stage_writes_each_intervention_once_and_keeps_what_did_not_change(warehouse_with_weeks, capsys):
    """The daily run's effects stage (minqing/analytics/intervention_effects.py): a row per intervention ×
    category ('all', and each of several) × method; the 'all' row is what `minqing effect --json` prints; a
    second run with the same weeks estimates nothing again; an intervention taken out of the seed goes."""
    from minqing import warehouse
    from minqing.analytics import intervention_effects

    with warehouse.connect() as conn:
        counts = intervention_effects.estimate_all(conn)
        conn.commit()
        rows = conn.execute("select intervention_id, category_code, method from ops.intervention_effects "
                            "order by 1, 2, 3").fetchall()
    # 常唠宽心话: one category; 纵横共治法: all; 物业金管家: two categories, each and together
    assert counts == {"interventions": 3, "estimated": 5, "unchanged": 0, "failed": 0, "removed": 0}
    assert [(i, c) for i, c, m in rows if m == "poisson_did"] == [
        ("changlao", "all"), ("jinguanjia", "all"), ("jinguanjia", "property_service"), ("jinguanjia", "utilities"),
        ("zongheng", "all")]
    assert {m for _, _, m in rows} == {"poisson_did", "synthetic_control"} and len(rows) == 10

    assert cli.main(["effect", "--intervention", "changlao", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    with warehouse.connect() as conn:
        did, sc = (dict(zip([d.name for d in cur.description], cur.fetchone())) for cur in (
            conn.execute("select * from ops.intervention_effects where intervention_id = 'changlao' "
                         "and category_code = 'all' and method = %s", (method,))
            for method in ("poisson_did", "synthetic_control")))
        ids = dict(conn.execute("select community_name, community_id from marts.dim_community").fetchall())
    for field in ("effect_pct", "ci_low_pct", "ci_high_pct", "p_value", "effect_per_month", "expected_per_month",
                  "time_placebo_p", "pre_weeks", "post_weeks", "warnings", "reading"):
        assert (float(did[field]) if did[field] is not None and field.endswith(("_pct", "_p", "_value", "_month"))
                else did[field]) == out[field], field
    assert did["donor_ids"] == [ids[name] for name in out["donors"]] and "bayichang" not in did["donor_ids"]
    assert float(sc["effect_pct"]) == out["synthetic"]["effect_pct"]
    assert set(sc["donor_weights"]) <= set(did["donor_ids"]) and abs(sum(sc["donor_weights"].values()) - 1) < 0.01
    assert did["placebo_count"] == len(out["placebos"]) and did["community_ids"] == ["bayichang"]

    with warehouse.connect() as conn:
        assert intervention_effects.estimate_all(conn)["unchanged"] == 5
        # a late record in a past week changes 常唠宽心话's panel: it alone is estimated again
        conn.execute("insert into marts.fct_daily_complaint_counts values (%s, 'bayichang', 'neighbor_dispute', "
                     "'hotline_12345', false, 3, 0)", (START + dt.timedelta(days=15),))
        again = intervention_effects.estimate_all(conn)
        assert (again["estimated"], again["unchanged"]) == (2, 3)  # its own row and 纵横共治法's (all categories)
        conn.execute("delete from reference.interventions where intervention_id = 'zongheng'")
        assert intervention_effects.estimate_all(conn)["removed"] == 2
        conn.commit()
        assert conn.execute("select count(*) from ops.intervention_effects where intervention_id = 'zongheng'").fetchone()[0] == 0


def test_an_estimate_that_fails_is_a_row_with_the_reason_not_a_failed_run(warehouse_with_weeks, monkeypatch):
    from minqing import warehouse
    from minqing.analytics import intervention_effects

    real = effects.estimate_intervention

    def failing(conn, intervention, *args, **kwargs):
        if intervention.intervention_id == "zongheng":
            raise FloatingPointError("overflow in exp")
        return real(conn, intervention, *args, **kwargs)

    monkeypatch.setattr(effects, "estimate_intervention", failing)
    with warehouse.connect() as conn:
        counts = intervention_effects.estimate_all(conn)
        row = conn.execute("select effect_pct, warnings from ops.intervention_effects where intervention_id = 'zongheng' "
                           "and method = 'poisson_did'").fetchone()
    assert counts["failed"] == 1 and counts["estimated"] == 5
    assert row == (None, ["估计失败：FloatingPointError: overflow in exp"])


def test_fewer_days_than_a_complete_week_is_a_warning_not_a_crash(fresh_warehouse, capsys):
    from minqing import warehouse

    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        conn.execute("create schema if not exists marts; create schema if not exists reference")
        conn.execute("create table marts.dim_community (community_id text, community_name text, households int, "
                     "street_id text default 'liuliqiao')")
        conn.execute("create table marts.fct_daily_complaint_counts (received_date date, community_id text, "
                     "category_code text, source_channel text, is_cancelled boolean, reports int, proactive_reports int)")
        conn.execute("insert into marts.dim_community (community_id, community_name) "
                     "values ('bayichang', '八一厂社区'), ('liunan', '六南社区')")
        # Wednesday to the next Tuesday: no complete Monday-to-Sunday week
        conn.execute("insert into marts.fct_daily_complaint_counts select d, 'bayichang', 'noise', 'hotline_12345', "
                     "false, 2, 0 from generate_series('2026-07-01'::date, '2026-07-07', '1 day') as d")
    with warehouse.connect() as conn:
        panel, _, _ = effects.weekly_panel(conn)
        assert panel.shape[1] == 0 and isinstance(panel.columns, __import__("pandas").DatetimeIndex)
        found = effects.estimate(panel, "bayichang", START)
    assert found.effect_pct is None and found.warnings == ["尚无完整的一周（周一至周日）数据，无法估计"]
    several = effects.estimate(panel, ["bayichang", "liunan"], START)
    assert several.effect_pct is None and several.warnings == found.warnings
