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
START = dt.date(2026, 3, 2)  # a Monday


def _seed_rows() -> list[dict]:
    with open(config.DBT_PROJECT_DIR / "seeds" / "interventions.csv", encoding="utf-8", newline="") as fh:
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
        conn.execute("create table marts.dim_community (community_id text, community_name text, households int)")
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
            cur.executemany("insert into marts.dim_community values (%s, %s, null)", [(i, n) for n, i in ids.items()])
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
    known = {c.strip() for c in open(config.DBT_PROJECT_DIR / "seeds" / "communities.csv", encoding="utf-8")
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
