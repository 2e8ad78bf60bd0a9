"""The benchmark's code path on tiny sizes: correctness only, never a timing assertion."""

from __future__ import annotations

import json
import os
import statistics

import psycopg
import pytest

from minqing import cli
from minqing.devtools import bench


@pytest.mark.slow
def test_bench_runs_every_step_and_reports_every_figure(fresh_warehouse, capsys):
    assert cli.main(["bench", "--json", "--rows", "300", "--daily-rows", "120", "--histories", "200,2000",
                     "--repeats", "1", "--history-repeats", "1", "--cosmos-repeats", "1",
                     "--dbt-select", "stg_hotline__work_orders",
                     "--street-days", "1", "--street-history-days", "2", "--no-street-dag", "--streets", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    # the city-day over three streets, one district-wide export: every row's street known (an unknown
    # street is quarantined), and the reference folder of the run is gone with it
    assert report["settings"]["streets"] == 3 and "MINQING_REFERENCE_DIR" not in os.environ
    # a street-day: a generated street's third day through `minqing run` in a fresh process
    assert report["seconds"]["street_day"] > 0 and report["street_day_new_rows"] > 0
    assert report["street_day_seconds"] == report["seconds"]["street_day"]
    assert "street_day_dag_seconds" not in report  # --no-street-dag
    assert report["rows_loaded"] + report["rows_quarantined"] == 300
    for name in ("ingest", "copy", "validate", "reload", "daily_at_200", "daily_at_2000", "full_refresh",
                 "dbt_cli", "cosmos"):
        assert report["seconds"][name] > 0, name
    for name in ("ingest_vs_copy", "validate_vs_load", "reload_vs_load", "daily_large_vs_small", "cosmos_vs_cli"):
        assert report[name] > 0, name
    # a history smaller than the export is the export cut down; a larger one is grown to the size
    assert report["history_rows_at_200"] == 200 and report["history_rows_at_2000"] == 2000
    assert {"ingest", "validate", "classify", "dbt", "forecast"} <= set(report["daily_stages_at_2000"])
    assert set(report["targets"]) >= {"ingest_vs_copy", "validate_vs_load", "daily_10m_vs_1m",
                                      "cosmos_vs_cli", "reload_vs_load"}
    # each figure is what its name says: a ratio is the quotient of its two timings, a timing the
    # median of its samples, and a daily run's stages fit inside the run's wall time
    seconds = report["seconds"]
    for ratio, (top, bottom) in {"ingest_vs_copy": ("ingest", "copy"), "validate_vs_load": ("validate", "ingest"),
                                 "reload_vs_load": ("reload", "ingest"), "cosmos_vs_cli": ("cosmos", "dbt_cli"),
                                 "daily_large_vs_small": ("daily_at_2000", "daily_at_200")}.items():
        assert report[ratio] == pytest.approx(seconds[top] / seconds[bottom], rel=0.02, abs=0.006), ratio
    for name, samples in report["samples"].items():
        assert seconds[name] == pytest.approx(statistics.median(samples), abs=0.002), name
    assert report["ingest_rows_per_s"] == pytest.approx(300 / seconds["ingest"], rel=0.02, abs=1)
    for history in (200, 2000):
        assert sum(report[f"daily_stages_at_{history}"].values()) <= seconds[f"daily_at_{history}"] + 0.01
    # the verdicts printed beside the figures follow from the targets
    text = bench.table(bench.BenchResult(report["settings"], seconds, report["samples"],
                                                {k: v for k, v in report.items()
                                                 if k not in ("settings", "seconds", "samples", "targets", "notes")}))
    for name, target in report["targets"].items():
        if name in report and name != "daily_10m_s":
            verdict = "met" if report[name] <= target else "MISSED"
            assert f"(target ≤ {target}: {verdict})" in text, name
    # the bench database is gone; the warehouse it ran beside is untouched
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(*) from pg_database where datname like '%\\_bench%'").fetchone()[0] == 0


def test_export_rows_are_unique_work_orders(tmp_path):
    base = [{"工单编号": "GD2026070100001", "诉求内容": "楼道灯坏了", "所属社区": "望园社区"},
            {"工单编号": "400-20260701-0001", "诉求内容": "电梯停了", "所属社区": "金二社区"}]
    path = tmp_path / "hotline" / "12345_20260901.csv"
    assert bench.write_export(path, 50, bench.BENCH_DAY, base, seed=1) == 50
    from ingestion.hotline import read

    result = read(path.read_bytes(), path.name)
    assert len(result.records) == 50 and not result.rejected
    assert len({r["work_order_id"] for r in result.records}) == 50
    assert len({r["content"] for r in result.records}) == 50


def test_a_city_export_spreads_its_rows_over_the_streets(tmp_path, monkeypatch):
    monkeypatch.delenv("MINQING_REFERENCE_DIR", raising=False)
    base = [{"工单编号": "GD2026070100001", "诉求内容": "楼道灯坏了", "所属社区": "望园社区"}]
    with bench.city_reference(tmp_path, 4) as places:
        folder = os.environ["MINQING_REFERENCE_DIR"]
        from minqing import reference

        assert reference.check(folder) == []  # a folder dbt reads as it is
        path = tmp_path / "hotline" / "12345_20260901.csv"
        assert bench.write_export(path, 24, bench.BENCH_DAY, base, seed=1, places=places) == 24
    assert "MINQING_REFERENCE_DIR" not in os.environ
    assert len(places) == 13 + 3 * 3  # 六里桥街道's thirteen communities, three of each other street
    from ingestion.hotline import read

    records = read(path.read_bytes(), path.name).records
    assert {r["street"] for r in records} == {street for street, _ in places}
    assert all(r["address"].startswith(r["street"] + r["community"]) for r in records)
