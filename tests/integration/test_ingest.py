"""Integration: ingest landing folders into a real PostgreSQL and check the accounting."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import discover, ingest, is_due
from minqing.cli import main as cli

HEADER = ("工单编号,来源,来电时间,诉求人,联系电话,诉求类型,诉求内容,诉求地址,所属街道,所属社区,问题分类,承办单位,"
          "派单时间,签收时间,首次联系时间,办结时间,办理状态,是否解决,满意度,更新时间")


def _order(order_id: str, status: str, updated: str, phone: str = "13812345678") -> str:
    return (f'{order_id},12345,2026-07-15 08:03:11,张伟,{phone},投诉,"雨后小区积水，进不了门",'
            f"丰台区六里桥街道望园社区3号楼,六里桥街道,望园社区,,街道城管科,,,,,{status},,,{updated}")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture()
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    # The newer version sits in the file that sorts first, so load order cannot be what decides.
    write(root / "hotline/a_20260716.csv", "\n".join([HEADER, _order("GD2026071500001", "已办结", "2026-07-16 18:00:00")]) + "\n")
    write(root / "hotline/b_20260715.csv", "\n".join([
        HEADER,
        _order("GD2026071500001", "已派单", "2026-07-15 09:00:00"),
        _order("GD2026071500002", "已派单", "2026-07-15 10:00:00", phone="+86 139 0000 1111"),
        _order("", "已派单", "2026-07-15 10:00:00"),
    ]) + "\n", encoding="gb18030")
    write(root / "miniprogram/pull_1.jsonl", "\n".join([
        json.dumps({"ticket_id": "MP1", "type": "repair", "submitted_at": "2026-07-15T08:00:00+08:00",
                    "updated_at": 1784076000000, "community": "保利益丰社区",
                    "user": {"openid": "oSECRETOPENID", "nickname": "王大妈", "phone": "13700001234"}},
                   ensure_ascii=False),
        json.dumps({"ticket_id": "MP2", "type": "bill_payment", "submitted_at": "2026-07-15T08:00:00+08:00"}),
        '{"ticket_id": "MP3", "type": "rep',
    ]))
    write(root / "hotline/notes.txt", "not an export")
    return root


def _count(conn, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def test_every_row_is_loaded_or_quarantined_and_counts_add_up(fresh_warehouse, landing):
    reports = {r.file: r for r in ingest(landing, progress=False)}
    assert set(reports) == {"hotline/a_20260716.csv", "hotline/b_20260715.csv", "hotline/notes.txt",
                            "miniprogram/pull_1.jsonl"}
    for r in reports.values():
        assert r.rows_in == r.rows_loaded + r.rows_quarantined
    b = reports["hotline/b_20260715.csv"]
    assert (b.status, b.rows_in, b.rows_loaded, b.rows_quarantined) == ("loaded", 3, 2, 1)
    mp = reports["miniprogram/pull_1.jsonl"]
    assert (mp.rows_loaded, mp.rows_quarantined) == (2, 1)
    assert reports["hotline/notes.txt"].status == "quarantined"
    with psycopg.connect(fresh_warehouse) as conn:
        assert _count(conn, "select count(*) from raw.hotline_work_orders") == 3
        assert _count(conn, "select count(*) from raw.miniprogram_tickets") == 2
        assert _count(conn, "select count(*) from raw.miniprogram_tickets where not is_resident_demand") == 1
        # the quarantine holds every rejected row plus one entry for the unreadable file
        assert _count(conn, "select count(*) from raw.quarantine") == 3
        reasons = [r[0] for r in conn.execute("select reason from raw.quarantine order by path").fetchall()]
        assert any("工单编号 is empty" in r for r in reasons)
        assert any("unexpected file type" in r for r in reasons)
        assert any("cut off" in r for r in reasons)
        assert _count(conn, "select count(*) from ops.ingested_files where rows_in <> rows_loaded + rows_quarantined") == 0


def test_ingest_twice_changes_nothing_and_copies_are_duplicates(fresh_warehouse, landing):
    ingest(landing, progress=False)
    shutil.copy(landing / "hotline/a_20260716.csv", landing / "hotline/redelivered_copy.csv")

    def snapshot():
        with psycopg.connect(fresh_warehouse) as conn:
            return [_count(conn, f"select count(*) from {t}") for t in
                    ("raw.hotline_work_orders", "raw.miniprogram_tickets", "raw.quarantine", "ops.ingested_files")]

    before = snapshot()
    again = ingest(landing, progress=False)
    assert {r.status for r in again} == {"duplicate"}
    assert all(r.rows_in == r.rows_loaded == r.rows_quarantined == 0 for r in again)
    copy = next(r for r in again if r.file == "hotline/redelivered_copy.csv")
    assert copy.duplicate_of == "hotline/a_20260716.csv"
    assert snapshot() == before


def test_newest_version_wins_whatever_the_load_order(fresh_warehouse, landing):
    ingest(landing, progress=False)
    with psycopg.connect(fresh_warehouse) as conn:
        versions = conn.execute(
            "select status from raw.hotline_work_orders where work_order_id = 'GD2026071500001' "
            "order by updated_at desc").fetchall()
    assert [v[0] for v in versions] == ["已办结", "已派单"]


def test_no_clear_personal_data_outside_the_restricted_schema(fresh_warehouse, landing):
    ingest(landing, progress=False)
    secrets = ["13812345678", "13900001111", "139 0000 1111", "13700001234", "oSECRETOPENID", "张伟", "王大妈"]
    with psycopg.connect(fresh_warehouse) as conn:
        columns = conn.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_schema not in ('raw', 'pg_catalog', 'information_schema')
                 and data_type in ('text', 'jsonb', 'character varying')""").fetchall()
        assert columns, "expected some columns outside raw to scan"
        for schema, table, column in columns:
            for secret in secrets:
                hits = _count(conn, f'select count(*) from "{schema}"."{table}" where "{column}"::text like '
                                    f"'%{secret}%'")
                assert hits == 0, f"{secret!r} readable in {schema}.{table}.{column}"
        # the raw schema does keep the clear values, with key and mask beside them
        row = conn.execute("select complainant_phone, complainant_phone_masked, complainant_key "
                           "from raw.hotline_work_orders where work_order_id = 'GD2026071500002'").fetchone()
        assert row[0] == "+86 139 0000 1111" and row[1] == "139****1111" and len(row[2]) == 32


def test_cli_json_report(fresh_warehouse, landing, capsys):
    assert cli(["ingest", "--landing", str(landing), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["file"] for r in report} >= {"hotline/b_20260715.csv"}
    for entry in report:
        assert set(entry) >= {"file", "channel", "status", "rows_in", "rows_loaded", "rows_quarantined"}
        assert entry["channel"] in {"hotline", "miniprogram", "reception"}
        assert entry["status"] in {"loaded", "duplicate", "quarantined"}
        assert entry["rows_in"] == entry["rows_loaded"] + entry["rows_quarantined"]


def test_cli_names_an_unreadable_file_and_exits_1(fresh_warehouse, landing, capsys):
    (landing / "hotline" / "12345_20260716.csv").symlink_to(landing / "hotline" / "gone.csv")
    assert cli(["ingest", "--landing", str(landing)]) == 1
    out, err = capsys.readouterr()
    assert "1 UNREADABLE" in out
    assert "hotline/12345_20260716.csv: the file cannot be read" in err and "does not exist" in err
    # the readable files were loaded all the same
    with psycopg.connect(fresh_warehouse) as conn:
        assert _count(conn, "select count(*) from ops.ingested_files where path = 'hotline/b_20260715.csv'") == 1


def test_warehouse_url_is_accepted_by_psql(fresh_warehouse):
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql client not installed")
    out = subprocess.run([sys.executable, "-m", "minqing.cli", "warehouse", "url"], capture_output=True, text=True,
                         check=True).stdout.strip()
    result = subprocess.run([psql, out, "-Atc", "select count(*) from meta.schema_migrations"], capture_output=True,
                            text=True, check=True)
    assert int(result.stdout) >= 1


def test_a_run_for_one_day_takes_the_files_due_by_then(tmp_path):
    day = dt.date(2026, 7, 15)
    assert is_due("hotline/12345_20260715.csv", day)
    assert is_due("hotline/2026-07-14/export.csv", day)       # late files are taken by the next run
    assert not is_due("hotline/12345_20260716.csv", day)      # a backfill takes nothing of a later day
    assert is_due("reception/reception_望园社区_202607.xlsx", day)
    assert not is_due("reception/reception_望园社区_202608.xlsx", day)
    assert is_due("miniprogram/pull.jsonl", day)  # no date: always due; the second time it is a duplicate
    for name in ("hotline/a_20260715.csv", "hotline/b_20260716.csv", "miniprogram/c.jsonl"):
        write(tmp_path / name, "x")
    assert [p.name for _, p in discover(tmp_path, day=day)] == ["a_20260715.csv", "c.jsonl"]
    assert [p.name for _, p in discover(tmp_path, channels=["miniprogram"])] == ["c.jsonl"]
