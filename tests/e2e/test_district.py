"""End to end: a generated district of five streets (六里桥街道 and four invented ones, minqing/devtools/district.py)
through `minqing run` with the district's reference folder, on a real warehouse (issue 23).

Each street's files land under its own folder of each channel's; its work orders name their own street.
Every complaint must be in the street whose files brought it (matched to the generator's truth files, one
per street), no complaint is left without a street, and the month's ranking ranks the five with classes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from minqing.devtools import district, link_eval
from minqing.devtools.generate import MANIFEST_NAME, PROBLEMS_NAME

from conftest import migrated_database

DAYS, PER_DAY = 14, 20


@pytest.fixture(scope="module")
def month(server_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("district_month")
    landing = work / "landing"
    manifests = district.generate_district(landing, days=DAYS, seed=3, per_day=PER_DAY, streets=5)
    folder = district.write_reference(work / "reference", streets=5)
    with migrated_database(server_url, prefix="minqing_district") as url:
        env = {**os.environ, "WAREHOUSE_URL": url, "MINQING_HOME": str(work / "home"),
               "MINQING_REFERENCE_DIR": str(folder)}
        run = subprocess.run([str(Path(sys.executable).with_name("minqing")), "run", "--landing", str(landing)],
                             env=env, capture_output=True, text=True, timeout=1200)
        assert run.returncode == 0, run.stderr[-3000:]
        yield {"url": url, "landing": landing, "manifests": manifests}


def _truth(landing: Path) -> pd.DataFrame:
    """Every street's truth rows (each resident demand), with the street whose files hold it."""
    frames = []
    for street in district.streets_of(5):
        name = PROBLEMS_NAME if not street.folder else PROBLEMS_NAME.replace(".generate_", f".generate_{street.folder}_")
        frame = pd.read_csv(landing / name, dtype=str, keep_default_na=False)
        frames.append(frame.assign(street=street.street_id, problem=street.street_id + ":" + frame["problem"]))
    return pd.concat(frames, ignore_index=True)


def test_each_street_writes_its_own_files_and_ids(month):
    manifests = month["manifests"]
    assert set(manifests) == {"liuliqiao", "huaiyuan", "yushu", "liuxi", "xiaoyue"}
    for street_id, manifest in manifests.items():
        paths = list(manifest["files"])
        assert paths and all(p.split("/")[1] == street_id for p in paths if street_id != "liuliqiao")
    assert (month["landing"] / MANIFEST_NAME).is_file()
    truth = _truth(month["landing"])
    hotline = truth.loc[truth["channel"] == "hotline"]
    assert not hotline["record_key"].duplicated().any()  # order numbers of one street's block each


def test_every_complaint_is_in_the_street_whose_files_brought_it(month):
    truth = _truth(month["landing"])
    with psycopg.connect(month["url"]) as conn:
        matched = link_eval.match(conn, truth)
        streets = dict(conn.execute("select complaint_id, street_id from marts.fct_complaints").fetchall())
        per_street = dict(conn.execute("select street_id, count(*) from marts.fct_complaints group by 1").fetchall())
    assert matched.attrs["matched"] >= 0.97 * len(truth)  # the rest: rows the validation quarantined
    placed = matched["complaint_id"].map(streets)
    assert (placed == matched["street"]).all(), matched.loc[placed != matched["street"], ["street", "record_key"]]
    assert "unresolved" not in per_street
    assert set(per_street) == set(month["manifests"])


def test_the_month_ranks_the_five_streets_with_classes(month):
    with psycopg.connect(month["url"]) as conn:
        rows = conn.execute("""select street_id, street_rank, rank_class, streets_ranked, classes_given
                               from marts.mart_street_ranking where month_start = '2026-07-01'
                               order by street_rank""").fetchall()
    assert len(rows) == 5 and [r[1] for r in rows] == [1, 2, 3, 4, 5]
    assert all(r[3] == 5 and r[4] for r in rows)
    assert rows[-1][2] == "governance"  # the worst of five: 治理类 (reference seeds/ranking_classes.csv)


def test_an_intervention_is_compared_with_its_own_streets_communities_only(month):
    """六里桥's interventions (the reference folder's interventions.csv) against 六里桥's other communities: the
    other streets' are run by other street centers."""
    with psycopg.connect(month["url"]) as conn:
        own = {c for (c,) in conn.execute("select community_id from marts.dim_community where street_id = 'liuliqiao'")}
        donors = conn.execute("select intervention_id, method, donor_ids from marts.mart_intervention_effects").fetchall()
    assert donors and all(set(ids) <= own for _, _, ids in donors), donors
    assert any(ids for _, _, ids in donors)


def test_the_district_page_shows_the_ranking_and_what_pulled_the_low_streets_down(month, tmp_path):
    from html.parser import HTMLParser

    from minqing.publishing import district_page

    with psycopg.connect(month["url"]) as conn:
        path = district_page.write(tmp_path, conn=conn)
        data = district_page.page_data(conn)
        ranked = conn.execute("select street_name, street_rank, rank_class from marts.mart_street_ranking "
                              "where month_start = '2026-07-01' order by street_rank").fetchall()
        # the 整改类 street's lost orders in the category that pulled it down most, counted again
        worst = data["low"][0]
        code = worst["categories"][0]["category_code"]
        unresolved, dissatisfied = conn.execute("""
            select sum(resolution_visited_reports - resolved_reports), sum(dissatisfied_reports)
            from marts.fct_daily_complaint_counts
            where street_id = %s and category_code = %s and not is_cancelled
              and source_channel in ('hotline_12345', 'hotline_400')""", (worst["street"]["street_id"], code)).fetchone()
    assert path.name == "district_ranking_2026-07.html"
    html = path.read_text(encoding="utf-8")

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.table = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.table = dict(attrs).get("id")
            if tag == "tr" and self.table == "ranking":
                self.rows.append([])

        def handle_data(self, text):
            if self.table == "ranking" and self.rows and text.strip():
                self.rows[-1].append(text.strip())

    cells = Cells()
    cells.feed(html)
    assert [(row[0], row[1].rstrip(" *")) for row in cells.rows[1:]] == [(str(rank), name) for name, rank, _ in ranked]
    assert "治理类" in html and "整改类" in html and 'id="incomplete"' in html and 'id="invented"' in html
    assert [item["street"]["rank_class"] for item in data["low"]] == ["rectification", "governance"]  # by rank
    assert (worst["categories"][0]["unresolved"], worst["categories"][0]["dissatisfied"]) == (unresolved, dissatisfied)
    assert f'id="low-{worst["street"]["street_id"]}"' in html


def test_the_briefing_of_a_district_sums_its_streets_and_says_so(month, monkeypatch):
    from minqing.publishing import briefing

    monkeypatch.setenv("WAREHOUSE_URL", month["url"])
    day = briefing.load()
    assert len(day.streets) == 5
    assert 'id="district-scope"' in briefing.render_html(day)
    rates = {row["metric"]: row["value"] for row in day.section("three_rates")}
    with psycopg.connect(month["url"]) as conn:
        resolved, visited = conn.execute("""
            select sum(resolved_orders), sum(resolution_visited_orders) from marts.mart_three_rates
            where period_grain = 'month' and period_start = date_trunc('month', %s::date) and area_level = 'street'
              and channel_scope = 'ranked'""", (day.data_date,)).fetchone()
    assert Decimal(rates["resolution_rate"]) == round(Decimal(resolved) / Decimal(visited), 4)


def test_each_streets_exports_are_its_own_deliveries(month):
    """A street's daily exports (its folder of each channel's, reference/expected_deliveries.csv street_id) are
    that street's deliveries alone: another street's files never make them arrive."""
    with psycopg.connect(month["url"]) as conn:
        rows = conn.execute("""
            select delivery_id, array_agg(distinct street_id), sum(files)
            from marts.mart_delivery_status where delivery_id like 'hotline_12345%%' group by 1""").fetchall()
        landed = dict(conn.execute("""
            select case when path like 'hotline/%%/%%' then split_part(path, '/', 2) else 'liuliqiao' end, count(*)
            from ops.ingested_files
            where channel = 'hotline' and (path like 'hotline/12345%%' or path like 'hotline/%%/12345%%')
            group by 1""").fetchall())
    by_delivery = {delivery: (streets, files) for delivery, streets, files in rows}
    for street in district.streets_of(5):
        delivery = "hotline_12345" if street.street_id == "liuliqiao" else f"hotline_12345_{street.street_id}"
        streets, files = by_delivery[delivery]
        assert streets == [street.street_id]
        assert files == landed[street.folder or "liuliqiao"], (delivery, files, landed)


def _briefing_rows(conn, section: str) -> dict:
    """{street_id (None: the district's): {metric or channel or community: row}} of the newest briefing's section."""
    cursor = conn.execute("""select * from marts.rpt_dispatch_briefing
                             where briefing_date = (select max(briefing_date) from marts.rpt_dispatch_briefing)
                               and section = %s""", (section,))
    names = [c.name for c in cursor.description]
    found: dict = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        key = row["metric"] if section in ("summary", "three_rates") else row["source_channel"] or row["community_id"]
        found.setdefault(row["street_id"], {})[key] = row
    return found


def test_each_street_has_its_own_briefing_and_the_streets_add_up_to_the_district(month):
    """Per-street briefings (issue 23): each street's figures are its own rows of fct_complaints and
    fct_community_daily for the data day, and the streets' counts add up to the district's (street_id null)."""
    with psycopg.connect(month["url"]) as conn:
        summary = _briefing_rows(conn, "summary")
        channels = _briefing_rows(conn, "received_by_channel")
        communities = _briefing_rows(conn, "received_by_community")
        data_date = next(iter(summary[None].values()))["data_date"]
        facts = {street: (received, proactive, overdue) for street, received, proactive, overdue in conn.execute("""
            select street_id, count(*) filter (where received_date = %(day)s),
                   count(*) filter (where received_date = %(day)s and is_proactive),
                   count(*) filter (where is_overdue and closed_at is null and status not in ('closed', 'cancelled'))
            from marts.fct_complaints group by 1""", {"day": data_date})}
        daily = dict(conn.execute("select street_id, sum(received_total) from marts.fct_community_daily "
                                  "where date_day = %s group by 1", (data_date,)).fetchall())
        by_channel = {(street, channel): n for street, channel, n in conn.execute(
            "select street_id, source_channel, count(*) from marts.fct_complaints where received_date = %s "
            "group by 1, 2", (data_date,)).fetchall()}
        own_communities = {street: {c for (c,) in conn.execute(
            "select community_id from marts.dim_community where street_id = %s", (street,))}
            for street in month["manifests"]}
    assert set(summary) == {None, *month["manifests"]}  # the district's and the five streets'
    for street, (received, proactive, overdue) in facts.items():
        figures = {metric: row["value"] for metric, row in summary[street].items()}
        assert figures["received"] == received == daily[street] > 0, street
        assert figures["proactive_found"] == proactive and figures["complaints"] == received - proactive, street
        assert figures["overdue_open"] == overdue, street
        # a channel of the street's whose delivery did not come (柳溪's mini-program pull) has no figure, not 0
        assert all(row["is_incomplete"] for row in channels[street].values() if row["value"] is None), street
        assert {c: row["value"] or 0 for c, row in channels[street].items()} == {
            c: by_channel.get((street, c), 0) for c in channels[street]}, street
        # its communities only (and its share of the records of no known community)
        assert set(communities[street]) <= own_communities[street] | {"unresolved"}, street
        assert sum(row["value"] for row in communities[street].values()) == received, street
    for metric in ("received", "problems_received", "complaints", "proactive_found", "overdue_open", "returned",
                   "early_warnings"):
        for field in ("value", "previous_value"):
            district = summary[None][metric][field]
            assert sum(summary[s][metric][field] or 0 for s in facts) == (district or 0), (metric, field)
    assert summary[None]["received"]["value"] == sum(received for received, _, _ in facts.values())


def test_the_briefing_dag_writes_the_districts_briefing_and_each_streets(month, tmp_path, monkeypatch):
    """`pipeline.publish_briefing` (the briefing DAG's task): the district's into the folder, each street's into
    <folder>/<street_id>/, its header naming the street and its figures the mart's rows of that street."""
    from minqing import pipeline
    from minqing.publishing import briefing

    monkeypatch.setenv("WAREHOUSE_URL", month["url"])
    monkeypatch.setattr(briefing, "chromium_executable", lambda: None)
    written = pipeline.publish_briefing(tmp_path)
    day = briefing.load().briefing_date
    assert written["html"] == str(tmp_path / f"briefing_{day}.html")
    assert set(written["streets"]) == set(month["manifests"])
    with psycopg.connect(month["url"]) as conn:
        names = dict(conn.execute("select street_id, street_name from marts.dim_street").fetchall())
        received = {row["street_id"]: row for row in _briefing_rows(conn, "summary").values()
                    for row in [row["received"]] if row["street_id"]}
    for street_id, page in written["streets"].items():
        html = (tmp_path / street_id / f"briefing_{day}.html").read_text(encoding="utf-8")
        assert page == str(tmp_path / street_id / f"briefing_{day}.html")
        assert f"<h1>{names[street_id]}诉求中心" in html and f'data-street="{street_id}"' in html
        assert 'id="district-scope"' not in html and 'href="../validation_report.html"' in html
        row = received[street_id]
        shown = re.search(f'data-section="summary" data-key="{re.escape(briefing.row_key(row))}" data-field="value" '
                          'data-value="([^"]*)"', html)
        assert Decimal(shown.group(1)) == row["value"], street_id
        assert len(list((tmp_path / street_id).glob("*.csv"))) == len(briefing.TABLES)
    district = (tmp_path / f"briefing_{day}.html").read_text(encoding="utf-8")
    assert 'id="district-scope"' in district and "street-scope" not in district
    assert (tmp_path / "validation_report.html").is_file()
