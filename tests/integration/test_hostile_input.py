"""Hostile-but-plausible exports (issue 13): nothing lost, nothing garbled, every reason clear.

Each test writes its own landing files to the source contract, runs the real loader against a real
warehouse, and checks where every row ended and that `rows_in = rows_loaded + rows_quarantined`
holds for every file; a second ingest changes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import types
from pathlib import Path

from msoffcrypto.format.ooxml import OOXMLFile
import openpyxl
import psycopg
import pytest

from ingestion import loader, miniprogram
from ingestion.common import FileError
from ingestion.loader import ingest
from minqing import pipeline

HEADER = ("工单编号,来源,来电时间,诉求人,联系电话,诉求类型,诉求内容,诉求地址,所属街道,所属社区,问题分类,承办单位,"
          "派单时间,签收时间,首次联系时间,办结时间,办理状态,是否解决,满意度,更新时间")
RECEPTION_HEADER = ["序号", "日期", "方式", "接待人员", "居民姓名", "联系方式", "住址", "反映问题", "问题类别",
                    "处理情况", "是否办结", "备注"]
RECEPTION_CSV = "\n".join([
    ",".join(RECEPTION_HEADER),
    "1,2026-07-15,接待日,李华,张伟,13812345678,望园社区3号楼,楼道灯坏了,,已报修,是,",
    "2,2026-07-16,巡查,李华,,,望园社区5号楼,楼下堆放杂物,,已清理,是,",
]) + "\n"


def _order(order_id: str, line: str = "12345", content: str = "雨后小区积水，进不了门") -> str:
    return (f'{order_id},{line},2026-07-15 08:03:11,张伟,13812345678,投诉,"{content}",'
            "丰台区六里桥街道望园社区3号楼,六里桥街道,望园社区,,街道城管科,,,,,已派单,,,2026-07-15 09:00:00")


def _ticket(ticket_id: str, **fields) -> dict:
    return {"ticket_id": ticket_id, "type": "repair", "submitted_at": "2026-07-15T08:03:11+08:00",
            "updated_at": "2026-07-15T09:00:00+08:00", "community": "保利益丰社区", "title": "卫生间漏水",
            "content": "楼上卫生间漏水，顺着墙往下流", **fields}


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def workbook(rows: list[list], merged: list[str] = ()) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "7月"
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def files(url: str) -> dict[str, tuple]:
    """path -> (status, rows_in, rows_loaded, rows_quarantined, reason) of every recorded file; and
    every file's counts add up, with one quarantine entry per quarantined row."""
    with psycopg.connect(url) as conn:
        recorded = conn.execute(
            "select path, status, rows_in, rows_loaded, rows_quarantined, reason, file_id from ops.ingested_files"
        ).fetchall()
        for path, status, rows_in, rows_loaded, rows_quarantined, reason, file_id in recorded:
            assert rows_in == rows_loaded + rows_quarantined, path
            entries = conn.execute("select count(*) from raw.quarantine where file_id = %s and row_number is not null",
                                   (file_id,)).fetchone()[0]
            assert entries == rows_quarantined, path
            if rows_in == 0 and status == "quarantined":  # quarantined whole: one entry saying why
                assert conn.execute("select count(*) from raw.quarantine where file_id = %s", (file_id,)).fetchone()[0] == 1
    return {path: rest[:5] for path, *rest in recorded}


def quarantine_reasons(url: str, path: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r for (r,) in conn.execute("select reason from raw.quarantine where path = %s order by row_number", (path,))]


def ingest_twice(root: Path, url: str):
    """Ingest, then ingest again: the second finds nothing new and changes nothing."""
    first = {r.file: r for r in ingest(root, progress=False)}
    before = files(url)
    second = ingest(root, progress=False)
    assert {r.status for r in second} <= {"duplicate"}, [(r.file, r.status) for r in second]
    assert files(url) == before
    return first


# --- 1. duplicates ------------------------------------------------------------------------------

def test_a_copy_misfiled_in_another_channel_does_not_swallow_the_real_one(fresh_warehouse, tmp_path):
    root = tmp_path / "landing"
    write(root / "hotline/reception_望园社区_202607.csv", RECEPTION_CSV)  # misfiled: quarantined here
    write(root / "reception/reception_望园社区_202607.csv", RECEPTION_CSV)
    reports = ingest_twice(root, fresh_warehouse)
    misfiled, real = reports["hotline/reception_望园社区_202607.csv"], reports["reception/reception_望园社区_202607.csv"]
    assert misfiled.status == "quarantined" and "not a work-order export" in misfiled.reason
    assert (real.status, real.rows_loaded, real.duplicate_of) == ("loaded", 2, None)
    with psycopg.connect(fresh_warehouse) as conn:
        assert conn.execute("select count(*) from raw.reception_entries").fetchone()[0] == 2


def test_empty_and_header_only_files_are_deliveries_of_their_own(fresh_warehouse, tmp_path):
    root = tmp_path / "landing"
    write(root / "hotline/hotline_20260715.csv", b"")
    write(root / "miniprogram/pull_20260715.jsonl", b"")
    write(root / "hotline/hotline_20260716.csv", HEADER + "\n")
    write(root / "hotline/hotline_20260717.csv", HEADER + "\n")  # byte-identical to the 16th's
    write(root / "hotline/hotline_20260718.csv", HEADER + "\n" + _order("GD2026071500001") + "\n")
    write(root / "hotline/again/hotline_20260718.csv", HEADER + "\n" + _order("GD2026071500001") + "\n")
    reports = ingest_twice(root, fresh_warehouse)
    assert reports["miniprogram/pull_20260715.jsonl"].status == "quarantined"
    assert "empty" in reports["miniprogram/pull_20260715.jsonl"].reason
    assert reports["miniprogram/pull_20260715.jsonl"].duplicate_of is None
    assert reports["hotline/hotline_20260715.csv"].status == "quarantined"
    assert [reports[f"hotline/hotline_2026071{d}.csv"].status for d in (6, 7)] == ["loaded", "loaded"]
    # content with records is one delivery, whatever its name
    first, copy = reports["hotline/again/hotline_20260718.csv"], reports["hotline/hotline_20260718.csv"]
    assert (first.status, copy.status, copy.duplicate_of) == ("loaded", "duplicate", first.file)


def test_content_quarantined_whole_loads_once_the_reader_can_read_it(fresh_warehouse, tmp_path, monkeypatch):
    root = tmp_path / "landing"
    write(root / "hotline/hotline_20260715.csv", HEADER + "\n" + _order("GD2026071500001") + "\n")
    real = loader.CHANNELS["hotline"]

    def broken(head: bytes, name: str, size: int):
        raise FileError("a reader bug: nothing can be read")

    monkeypatch.setitem(loader.CHANNELS, "hotline",
                        dataclasses.replace(real, reader=types.SimpleNamespace(layout_of=broken)))
    (first,) = ingest(root, progress=False)
    assert first.status == "quarantined"
    (again,) = ingest(root, progress=False)  # still broken: the same verdict, nothing new recorded
    assert again.status == "duplicate"
    monkeypatch.setitem(loader.CHANNELS, "hotline", real)  # the reader is fixed
    (fixed,) = ingest(root, progress=False)
    assert (fixed.status, fixed.rows_loaded) == ("loaded", 1)
    assert fixed.file_id > first.file_id  # a new file: the incremental steps' watermarks see it
    (after,) = ingest(root, progress=False)
    assert (after.status, after.file_id) == ("duplicate", fixed.file_id)
    files(fresh_warehouse)


# --- 2. summary rows -----------------------------------------------------------------------------

def test_records_that_begin_with_a_summary_word_are_records(fresh_warehouse, tmp_path):
    rows = [
        ["望园社区民意接待日登记表（2026年7月）"],
        RECEPTION_HEADER,
        [1, "7月15日", "入户", "李华", "", "", "望园社区3号楼", "合计走访12户，3户反映暖气不热", "", "已上报", "否", ""],
        [2, "7月16日", "接待日", "李华", "王芳", "", "望园社区5号楼", "楼道灯坏了", "", "合计上门两次，已修好", "是", ""],
        [3, "7月17日", "巡查", "李华", "", "", "望园社区6号楼", "小计：楼前井盖松动", "", "", "否", ""],
        ["合计", "", "", "", "", "", "", "共3件", "", "", "", ""],
        ["总计：3件"],
    ]
    data = workbook(rows, merged=["A7:L7"])
    write(tmp_path / "landing/reception/reception_望园社区_202607.xlsx", data)
    reports = ingest_twice(tmp_path / "landing", fresh_warehouse)
    report = reports["reception/reception_望园社区_202607.xlsx"]
    assert (report.rows_in, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    with psycopg.connect(fresh_warehouse) as conn:
        texts = [t for (t,) in conn.execute("select issue_text from raw.reception_entries order by row_number")]
        detail = conn.execute("select detail from ops.ingested_files").fetchone()[0]
    assert texts == ["合计走访12户，3户反映暖气不热", "楼道灯坏了", "小计：楼前井盖松动"]
    assert detail["summary_rows"] == ["7月!6", "7月!7"]  # the totals skipped, on record


def test_a_marked_row_with_an_issue_but_no_date_is_quarantined_not_dropped(fresh_warehouse, tmp_path):
    rows = [RECEPTION_HEADER, ["合计", "", "巡查", "李华", "", "", "望园社区3号楼", "楼顶防水层破损", "", "", "否", ""]]
    write(tmp_path / "landing/reception/reception_望园社区_202607.xlsx", workbook(rows))
    report, = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_in, report.rows_quarantined) == (1, 1)
    assert "日期 is empty" in quarantine_reasons(fresh_warehouse, report.file)[0]


# --- 3. the period of a workbook ------------------------------------------------------------------

def test_the_period_comes_from_the_title_phrase_not_a_filling_date(fresh_warehouse, tmp_path):
    rows = [
        ["望园社区民意接待日登记表（2025年12月）"],
        ["填报日期 2026年1月5日"],
        RECEPTION_HEADER,
        *[[i, f"12月{i}日", "接待日", "李华", "", "", "望园社区3号楼", f"楼道灯坏了{i}", "", "", "否", ""] for i in (1, 2, 3)],
        [4, "12月28日", "巡查", "李华", "", "", "望园社区5号楼", "井盖松动", "", "", "否", ""],
    ]
    write(tmp_path / "landing/reception/reception_望园社区_202512.xlsx", workbook(rows))
    report, = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_loaded, report.rows_quarantined) == (4, 0)
    with psycopg.connect(fresh_warehouse) as conn:
        dates = [d.isoformat() for (d,) in conn.execute("select entry_date from raw.reception_entries order by row_number")]
    assert dates == ["2025-12-01", "2025-12-02", "2025-12-03", "2025-12-28"]


def test_file_name_and_title_that_disagree_are_refused_naming_both(fresh_warehouse, tmp_path):
    rows = [["望园社区民意接待日登记表（2027年1月）"], RECEPTION_HEADER,
            [1, "1月3日", "接待日", "李华", "", "", "望园社区3号楼", "楼道灯坏了", "", "", "否", ""]]
    write(tmp_path / "landing/reception/reception_望园社区_202612.xlsx", workbook(rows))
    report, = ingest(tmp_path / "landing", progress=False)
    assert report.status == "quarantined"
    assert "2026年12月" in report.reason and "2027年1月" in report.reason
    files(fresh_warehouse)


# --- 4, 5. encodings ------------------------------------------------------------------------------

def test_utf8_cut_inside_a_character_keeps_its_good_lines(fresh_warehouse, tmp_path):
    root = tmp_path / "landing"
    good = [json.dumps(_ticket(f"MP2026071500000{i}"), ensure_ascii=False) for i in (1, 2)]
    cut = json.dumps(_ticket("MP20260715000003", title="楼道灯不亮了"), ensure_ascii=False).encode("utf-8")
    write(root / "miniprogram/pull_20260715.jsonl", ("\n".join(good) + "\n").encode("utf-8") + cut[:cut.index("灯".encode()) + 2])
    damaged = (HEADER + "\n" + _order("GD2026071500001") + "\n").encode("utf-8") \
        + _order("GD2026071500002", content="楼道灯坏了").encode("utf-8").replace("灯".encode(), "灯".encode()[:2]) \
        + ("\n" + _order("GD2026071500003") + "\n").encode("utf-8")
    write(root / "hotline/hotline_20260715.csv", damaged)
    reports = ingest_twice(root, fresh_warehouse)
    pull, export = reports["miniprogram/pull_20260715.jsonl"], reports["hotline/hotline_20260715.csv"]
    assert (pull.rows_loaded, pull.rows_quarantined) == (2, 1)
    assert "cut off" in quarantine_reasons(fresh_warehouse, pull.file)[0]
    assert (export.rows_loaded, export.rows_quarantined) == (2, 1)
    assert "not valid UTF-8" in quarantine_reasons(fresh_warehouse, export.file)[0]
    with psycopg.connect(fresh_warehouse) as conn:
        assert {t for (t,) in conn.execute("select title from raw.miniprogram_tickets")} == {"卫生间漏水"}
        assert {c for (c,) in conn.execute("select content from raw.hotline_work_orders")} == {"雨后小区积水，进不了门"}
        detail = conn.execute("select detail->>'encoding' from ops.ingested_files where path = %s", (export.file,)).fetchone()
    assert detail == ("utf-8",)


def test_a_mini_program_pull_is_utf8_only(fresh_warehouse, tmp_path):
    line = json.dumps(_ticket("MP20260715000001"), ensure_ascii=False)
    write(tmp_path / "landing/miniprogram/pull_20260715.jsonl", (line + "\n").encode("gb18030"))
    report, = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_in, report.rows_quarantined) == (1, 1)
    assert "not valid UTF-8" in quarantine_reasons(fresh_warehouse, report.file)[0]


def test_a_byte_order_mark_before_gb18030_is_named_as_the_encoding_problem(fresh_warehouse, tmp_path):
    text = HEADER + "\n" + _order("GD2026071500001") + "\n"
    write(tmp_path / "landing/hotline/hotline_20260715.csv", b"\xef\xbb\xbf" + text.encode("gb18030"))
    write(tmp_path / "landing/hotline/hotline_20260716.csv", text.encode("gb18030"))  # plain GB18030 is fine
    reports = {r.file: r for r in ingest(tmp_path / "landing", progress=False)}
    mixed = reports["hotline/hotline_20260715.csv"]
    assert mixed.status == "quarantined"
    assert "byte-order mark" in mixed.reason and "GB18030" in mixed.reason and "more than once" not in mixed.reason
    assert reports["hotline/hotline_20260716.csv"].rows_loaded == 1


# --- 6. every loaded file is validated ----------------------------------------------------------

def test_rows_loaded_by_a_plain_ingest_are_validated_by_the_next_run(fresh_warehouse, tmp_path):
    lines = [*(_ticket(f"MP2026071500001{i}") for i in range(5)),
             _ticket("MP20260715000002", updated_at="2026-07-14T09:00:00+08:00"),  # before submitted_at
             _ticket("MP20260715000003", type="parking_permit")]  # not a type the platform sends
    write(tmp_path / "landing/miniprogram/pull_20260715.jsonl",
          "\n".join(json.dumps(t, ensure_ascii=False) for t in lines) + "\n")
    ingest(tmp_path / "landing", progress=False)  # `minqing ingest` alone: nothing validated yet
    assert len(pipeline.files_awaiting_validation("miniprogram")) == 1
    summary = pipeline.validate_channel("miniprogram", "test-run")  # what `minqing run` and the DAG do
    assert (summary["rows_checked"], summary["rows_quarantined"]) == (7, 2)
    assert pipeline.files_awaiting_validation("miniprogram") == []
    again = pipeline.validate_channel("miniprogram", "test-run-2")
    assert again["skipped"] and again["rows_checked"] == 0
    with psycopg.connect(fresh_warehouse) as conn:
        kept = {t for (t,) in conn.execute("select ticket_id from raw.miniprogram_tickets")}
    assert kept == {f"MP2026071500001{i}" for i in range(5)}
    files(fresh_warehouse)


# --- 7, 11. the mini-program's JSON -----------------------------------------------------------------

def test_a_key_given_twice_in_one_object_is_quarantined(fresh_warehouse, tmp_path):
    line = ('{"ticket_id": "MP20260715000001", "ticket_id": "MP20260715000009", "type": "repair", '
            '"submitted_at": "2026-07-15T08:03:11+08:00"}')
    write(tmp_path / "landing/miniprogram/pull_20260715.jsonl", line + "\n")
    report, = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_in, report.rows_quarantined) == (1, 1)
    reason = quarantine_reasons(fresh_warehouse, report.file)[0]
    assert "'ticket_id'" in reason and "more than once" in reason


def test_nested_duplicate_keys_are_found_too():
    result = miniprogram.read(b'{"ticket_id": "MP1", "type": "repair", "submitted_at": 1784073791000, '
                              b'"location": {"room": "502", "room": "503"}}\n', "x.jsonl")
    assert not result.records and "'room'" in result.rejected[0].reason


@pytest.mark.parametrize("value, says", [
    (1784073791, "looks like epoch seconds"),
    (46218.5, "epoch milliseconds"),
    ("下周一", "ISO 8601 with an offset"),
])
def test_a_time_the_feed_does_not_send_names_the_field_and_the_forms(value, says):
    result = miniprogram.read(json.dumps(_ticket("MP1", submitted_at=value)).encode() + b"\n", "x.jsonl")
    reason = result.rejected[0].reason
    assert reason.startswith("submitted_at") and says in reason and "epoch milliseconds" in reason


# --- 10, 12. the hotline's columns ----------------------------------------------------------------

def test_intake_line_spellings_and_contradictions(fresh_warehouse, tmp_path):
    write(tmp_path / "landing/hotline/hotline_20260715.csv", "\n".join([
        HEADER,
        _order("GD2026071500001", line="12345热线"),
        _order("400-20260715-0001", line="400热线"),
        _order("GD2026071500002", line=" １２３４５市民服务热线 "),
        _order("GD2026071500003", line="400"),
        _order("GD2026071500004", line="110"),
    ]) + "\n")
    report, = ingest(tmp_path / "landing", progress=False)
    assert (report.rows_loaded, report.rows_quarantined) == (3, 2)
    with psycopg.connect(fresh_warehouse) as conn:
        lines = dict(conn.execute("select work_order_id, intake_line from raw.hotline_work_orders"))
    assert lines == {"GD2026071500001": "12345", "400-20260715-0001": "400", "GD2026071500002": "12345"}
    contradiction, unknown = quarantine_reasons(fresh_warehouse, report.file)
    assert "400" in contradiction and "GD2026071500003" in contradiction and "12345 id" in contradiction
    assert "'110'" in unknown and "12345热线" in unknown


def test_a_bracketed_qualifier_on_a_known_header_is_that_column(fresh_warehouse, tmp_path):
    header = HEADER.replace("联系电话", "联系电话（手机）").replace("诉求内容", " 诉求内容 ")
    write(tmp_path / "landing/hotline/hotline_20260715.csv", header + "\n" + _order("GD2026071500001") + "\n")
    report, = ingest(tmp_path / "landing", progress=False)
    assert report.rows_loaded == 1
    with psycopg.connect(fresh_warehouse) as conn:
        phone, key, masked, extra, content = conn.execute(
            "select complainant_phone, complainant_key, complainant_phone_masked, extra, content "
            "from raw.hotline_work_orders").fetchone()
    assert (phone, masked, extra, content) == ("13812345678", "138****5678", None, "雨后小区积水，进不了门")
    assert key


# --- 13. an encrypted workbook ----------------------------------------------------------------------

def test_a_password_protected_workbook_is_named_as_encrypted(fresh_warehouse, tmp_path):
    plain = workbook([RECEPTION_HEADER, [1, "2026-07-15", "接待日", "李华", "", "", "3号楼", "楼道灯坏了", "", "", "否", ""]])
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(plain)).encrypt("secret", encrypted)
    write(tmp_path / "landing/reception/reception_望园社区_202607.xlsx", encrypted.getvalue())
    report, = ingest(tmp_path / "landing", progress=False)
    assert report.status == "quarantined"
    assert "encrypted" in report.reason and "password" in report.reason and "save it again" not in report.reason
