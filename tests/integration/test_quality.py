"""GX validation of what ingestion loaded, against the real PostgreSQL (fixture `fresh_warehouse`).

Great Expectations is imported once per session; the GX project lives in a per-session
MINQING_HOME, never in the developer's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import psycopg
import pytest

import quality.channels
from ingestion.loader import ingest
from quality import context as gx_context
from quality import validate_channel, validate_loaded, validate_table
from quality.suites import CHANNEL_SUITES, PLACEHOLDER, Rule, format_reason

HEADER = ("工单编号,来源,来电时间,诉求人,联系电话,诉求类型,诉求内容,诉求地址,所属街道,所属社区,问题分类,承办单位,"
          "派单时间,签收时间,首次联系时间,办结时间,办理状态,是否解决,满意度,更新时间")
RECEPTION_HEADER = "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注"


def _order(order_id: str, status: str, *, closed: str = "", resolved: str = "", satisfaction: str = "") -> str:
    return (f'{order_id},12345,2026-07-15 08:03:11,张伟,13812345678,投诉,"雨后小区积水，进不了门",'
            f"丰台区六里桥街道望园社区3号楼,六里桥街道,望园社区,,街道城管科,,,,{closed},{status},"
            f"{resolved},{satisfaction},2026-07-16 09:00:00")


def _ticket(ticket_id: str, kind: str, status: str) -> str:
    return json.dumps({"ticket_id": ticket_id, "type": kind, "status": status, "community": "保利益丰社区",
                       "submitted_at": "2026-07-15T08:00:00+08:00", "updated_at": "2026-07-15T09:00:00+08:00",
                       "user": {"openid": "oSECRETOPENID", "nickname": "王大妈", "phone": "13700001234"}},
                      ensure_ascii=False)


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="session")
def gx_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("minqing_home")


@pytest.fixture()
def warehouse_db(fresh_warehouse, gx_home, monkeypatch) -> str:
    """A fresh database, and MINQING_HOME (where the GX project lives) in a per-session folder.

    Depends on `fresh_warehouse` first, so the embedded server is found before MINQING_HOME moves.
    """
    monkeypatch.setenv("MINQING_HOME", str(gx_home))
    monkeypatch.setenv(gx_context.URL_VARIABLE, "")  # restored (unset) after the test
    return fresh_warehouse


@pytest.fixture()
def landing(tmp_path) -> Path:
    """Five hotline orders (two bad), two mini-program tickets (both bad), two reception entries (one bad)."""
    root = tmp_path / "landing"
    _write(root / "hotline/12345_20260715.csv", [
        HEADER,
        _order("GD2026071500001", "已办结", closed="2026-07-15 17:00:00", resolved="是", satisfaction="满意"),
        _order("GD2026071500002", "已派单"),
        _order("GD2026071500003", "已撤销"),  # line 4: not a status the hotline has
        _order("GD2026071500004", "已办结", closed="2026-07-14 17:00:00", resolved="是",
               satisfaction="很满意"),  # line 5: closed before received, and an unknown satisfaction
        _order("GD2026071500005", "办理中"),
    ])
    _write(root / "miniprogram/tickets_20260715.jsonl", [
        _ticket("MP20260715000001", "lottery", "submitted"),
        _ticket("MP20260715000002", "repair", "teleported"),
    ])
    _write(root / "reception/reception_六南社区_202607.csv", [
        "六南社区民意接待日登记表（2026年7月）,,,,,,,,,,,",
        RECEPTION_HEADER,
        "1,2026-07-04,接待日,何敏,罗建华,13366001122,六南社区11号楼,11号楼前路灯不亮半个月了,道路设施,报街道城管办,是,",
        "2,2026-07-11,,何敏,,,六南社区南门,南门外早高峰违停，占用人行道,停车交通,联系交通支队,否,",
    ])
    return root


def _file_ids(conn) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    for file_id, channel in conn.execute("select file_id, channel from ops.ingested_files order by file_id"):
        ids.setdefault(channel, []).append(file_id)
    return ids


def _count(conn, query: str, *params) -> int:
    return conn.execute(query, params).fetchone()[0]


@pytest.mark.parametrize("pass_first", [False, True], ids=["listed-at-once", "pass-checked-first"])
def test_bad_rows_move_to_quarantine_and_only_the_bad_channel_fails(warehouse_db, landing, gx_home, monkeypatch,
                                                                     pass_first):
    # a large batch is checked for a pass first and listed only when something fails (quality.channels._run):
    # the same rows quarantined, the same results stored, as a small batch listed at once
    monkeypatch.setattr(quality.channels, "pass_first_above_rows", lambda: 0 if pass_first else 10 ** 9)
    ingest(landing, progress=False)
    with psycopg.connect(warehouse_db) as conn:
        ids = _file_ids(conn)

    results = validate_loaded(ids, "test-run")

    hotline, mini, reception = results["hotline"], results["miniprogram"], results["reception"]
    assert (hotline.rows_checked, hotline.rows_quarantined, hotline.success, hotline.failed) == (5, 2, False, False)
    assert (mini.rows_checked, mini.rows_quarantined, mini.failed) == (2, 2, True)
    assert "more than the 50% allowed" in mini.problems[0]
    # exactly half failing is not "more than half": the channel goes on
    assert (reception.rows_quarantined, reception.failing_share, reception.failed) == (1, 0.5, False)
    for result in results.values():
        print(f"{result.channel}: {result.seconds:.2f}s")  # shown with -s; the report quotes them

    with psycopg.connect(warehouse_db) as conn:
        quarantined = {r[0]: r[1:] for r in conn.execute(
            """select source_record_id, channel, path, sheet, row_number, check_name, reason, raw_content
               from raw.quarantine where stage = 'validate'""")}
        assert set(quarantined) == {"GD2026071500003", "GD2026071500004", "MP20260715000001",
                                    "MP20260715000002", *[k for k in quarantined if k.startswith("RC-")]}
        assert len(quarantined) == 5

        channel, path, sheet, row_number, check, reason, raw = quarantined["GD2026071500003"]
        assert (channel, path, sheet, row_number) == ("hotline", "hotline/12345_20260715.csv", None, 4)
        assert check == "expect_column_values_to_be_in_set(status)"
        assert "'已撤销'" in reason and "办理状态" in reason
        assert json.loads(raw)["work_order_id"] == "GD2026071500003"

        _, _, _, row_number, check, reason, _ = quarantined["GD2026071500004"]
        assert row_number == 5
        assert "expect_column_pair_values_a_to_be_greater_than_b(closed_at, received_at)" in check
        assert "expect_column_values_to_be_in_set(satisfaction)" in check
        assert "2026-07-14 17:00:00" in reason and "很满意" in reason  # Beijing time, as in the export

        assert "expect_column_values_to_be_in_set(ticket_type)" in quarantined["MP20260715000001"][4]
        assert "'lottery'" in quarantined["MP20260715000001"][5]
        assert "expect_column_values_to_be_in_set(status)" in quarantined["MP20260715000002"][4]
        (entry,) = [v for k, v in quarantined.items() if k.startswith("RC-")]
        assert entry[2:5] == ("csv", 4, "expect_column_values_to_not_be_null(method)")

        # the good rows stay; the bad ones are gone from raw
        orders = {r[0] for r in conn.execute("select work_order_id from raw.hotline_work_orders")}
        assert orders == {"GD2026071500001", "GD2026071500002", "GD2026071500005"}
        assert _count(conn, "select count(*) from raw.miniprogram_tickets") == 0
        assert _count(conn, "select count(*) from raw.reception_entries") == 1

        # every file still adds up; the mini-program file has nothing left and says so
        files = {r[0]: r[1:] for r in conn.execute(
            "select path, status, rows_in, rows_loaded, rows_quarantined from ops.ingested_files")}
        assert files["hotline/12345_20260715.csv"] == ("loaded", 5, 3, 2)
        assert files["miniprogram/tickets_20260715.jsonl"] == ("quarantined", 2, 0, 2)
        assert files["reception/reception_六南社区_202607.csv"] == ("loaded", 2, 1, 1)

        runs = {r[0]: r[1:] for r in conn.execute(
            """select suite_name, run_id, run_name, target, success, evaluated, successful, rows_checked,
                      rows_quarantined, batch from ops.validation_runs""")}
        assert set(runs) == {"hotline_raw", "miniprogram_raw", "reception_raw"}
        run_id, run_name, target, success, evaluated, successful, rows, moved, batch = runs["miniprogram_raw"]
        assert (run_name, target, success, rows, moved) == ("test-run", "raw.miniprogram_tickets", False, 2, 2)
        assert batch["file_ids"] == ids["miniprogram"] and batch["channel_failed"] is True
        assert evaluated == len(CHANNEL_SUITES["miniprogram"].rules) and successful < evaluated
        stored = conn.execute(
            """select expectation_type, column_name, success, unexpected_count from ops.validation_results
               where run_id = %s""", (run_id,)).fetchall()
        assert len(stored) == evaluated
        assert ("expect_column_values_to_be_in_set", "ticket_type", False, 1) in stored
        assert runs["hotline_raw"][-1]["channel_failed"] is False

    # the GX project under $MINQING_HOME/gx holds no connection details
    project = (gx_home / "gx" / "gx" / "great_expectations.yml").read_text(encoding="utf-8")
    assert "${" + gx_context.URL_VARIABLE + "}" in project
    assert psycopg.conninfo.conninfo_to_dict(warehouse_db)["dbname"] not in project

    # validating the same files again finds nothing more to move
    again = validate_channel("hotline", ids["hotline"], "test-run-again")
    assert (again.success, again.rows_checked, again.rows_quarantined) == (True, 3, 0)
    with psycopg.connect(warehouse_db) as conn:
        stored = conn.execute("select element_count, unexpected_count, unexpected_percent from ops.validation_results "
                              "where run_id = %s", (again.run_id,)).fetchall()
    assert len(stored) == len(CHANNEL_SUITES["hotline"].rules)
    assert {tuple(r) for r in stored} == {(3, 0, 0.0)}  # counted, whichever result format found the pass


def test_one_channel_breaking_does_not_stop_the_others(warehouse_db, landing, monkeypatch):
    ingest(landing, progress=False)
    with psycopg.connect(warehouse_db) as conn:
        ids = _file_ids(conn)
    real_run_suite = gx_context.run_suite

    def broken_for_reception(suite_name, *args, **kwargs):
        if suite_name == "reception_raw":
            raise RuntimeError("the reception suite broke")
        return real_run_suite(suite_name, *args, **kwargs)

    monkeypatch.setattr(gx_context, "run_suite", broken_for_reception)
    results = validate_loaded({**ids, "fax": [1]}, "test-isolation")

    assert results["reception"].failed and "the reception suite broke" in results["reception"].error
    assert results["fax"].failed and "unknown channel" in results["fax"].error
    assert not results["hotline"].failed and results["hotline"].rows_quarantined == 2
    assert results["miniprogram"].failed and results["miniprogram"].rows_quarantined == 2
    with psycopg.connect(warehouse_db) as conn:
        # the broken attempt is on record; its rows were not touched
        success, evaluated, batch = conn.execute(
            "select success, evaluated, batch from ops.validation_runs where suite_name = 'reception_raw'").fetchone()
        assert (success, evaluated) == (False, 0) and "RuntimeError" in batch["error"]
        assert _count(conn, "select count(*) from raw.reception_entries") == 2


def test_nothing_loaded_means_nothing_to_validate(warehouse_db):
    result = validate_channel("reception", [], "test-empty")
    assert result.skipped and result.success and not result.failed and result.run_id is None


def test_validate_table_stores_results_without_quarantine(warehouse_db):
    import great_expectations.expectations as gxe

    with psycopg.connect(warehouse_db) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.fct_example (complaint_id text, category_code text)")
        conn.execute("insert into marts.fct_example values ('a', 'drainage'), ('b', 'heating'), ('c', 'nonsense')")
        conn.commit()

    result = validate_table("marts", "fct_example", "fct_example_mart", [
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "complaint_id"}},
        Rule("expect_column_values_to_be_in_set", {"column": "category_code", "value_set": ["drainage", "heating"]}),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ], "test-marts")

    assert (result.success, result.evaluated, result.successful, result.rows_checked) == (False, 3, 2, 3)
    assert result.failures == ["expect_column_values_to_be_in_set(category_code): 1 unexpected"]
    with psycopg.connect(warehouse_db) as conn:
        assert _count(conn, "select count(*) from marts.fct_example") == 3
        assert _count(conn, "select count(*) from raw.quarantine") == 0
        target, success = conn.execute(
            "select target, success from ops.validation_runs where run_id = %s", (result.run_id,)).fetchone()
        assert (target, success) == ("marts.fct_example", False)
        assert _count(conn, "select count(*) from ops.validation_results where run_id = %s", result.run_id) == 3
    with pytest.raises(ValueError):
        validate_table("marts", "fct_example; drop table x", "bad", [], "test-marts")


def test_validate_table_by_file_checks_the_newer_files_rows_only(warehouse_db):
    with psycopg.connect(warehouse_db) as conn:
        conn.execute("create schema if not exists marts")
        conn.execute("create table marts.fct_by_file (complaint_id text, category_code text, source_file_id bigint)")
        conn.execute("insert into marts.fct_by_file values ('a', 'nonsense', 1), ('b', 'heating', 2), ('c', 'drainage', 3)")
        conn.commit()
    rule = Rule("expect_column_values_to_be_in_set", {"column": "category_code", "value_set": ["drainage", "heating"]})

    newer = validate_table("marts", "fct_by_file", "fct_by_file_mart", [rule], "test-by-file",
                           file_column="source_file_id", after_file_id=1)
    whole = validate_table("marts", "fct_by_file", "fct_by_file_mart", [rule], "test-by-file")

    assert (newer.success, newer.rows_checked) == (True, 2)  # file 1's bad row was checked when it came
    assert (whole.success, whole.rows_checked) == (False, 3)
    with pytest.raises(ValueError):
        validate_table("marts", "fct_by_file", "bad", [], "test-by-file", file_column="x; drop table y", after_file_id=0)


@pytest.mark.parametrize(("libpq", "expected"), [
    ("postgresql://postgres:@/minqing?host=/tmp/home/warehouse",
     "postgresql+psycopg://postgres@/minqing?host=%2Ftmp%2Fhome%2Fwarehouse"),
    ("user=postgres dbname=minqing_test_1 host=/tmp/home/warehouse port=5433",
     "postgresql+psycopg://postgres@/minqing_test_1?host=%2Ftmp%2Fhome%2Fwarehouse&port=5433"),
    ("postgresql://etl:p%40ss:w0rd@db.example.org:6432/minqing?sslmode=require",
     "postgresql+psycopg://etl:p%40ss%3Aw0rd@db.example.org:6432/minqing?sslmode=require"),
])
def test_sqlalchemy_url(libpq, expected):
    assert gx_context.sqlalchemy_url(libpq) == expected


def test_every_reason_names_only_the_columns_its_rule_checks():
    for suite in CHANNEL_SUITES.values():
        assert len({r.check_name for r in suite.rules}) == len(suite.rules), "check names must be unique"
        for rule in suite.rules:
            fields = {name for name, _ in PLACEHOLDER.findall(rule.reason)}
            assert fields <= set(rule.columns), (rule.check_name, fields)
            assert rule.reason and re.search(r"[;:]", rule.reason), rule.check_name
    assert format_reason("办理状态 {status!r} is odd; {missing}; ^GD\\d{13}$", {"status": "已撤销"}) == \
        "办理状态 '已撤销' is odd; ?; ^GD\\d{13}$"
