"""Unit tests for every parsing quirk of the source contract (no database)."""

from __future__ import annotations

import datetime as dt
import io
import json

import openpyxl
import pytest

from ingestion import hotline, miniprogram, reception
from minqing import privacy
from ingestion.common import FileError, RowError, decode, parse_date, parse_datetime
from minqing.config import BEIJING


def bj(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BEIJING)


# --- dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("2026-07-15 08:03:11", bj(2026, 7, 15, 8, 3, 11)),
    ("2026/7/15 8:03", bj(2026, 7, 15, 8, 3)),
    ("2026年7月15日 08:03", bj(2026, 7, 15, 8, 3)),
    ("2026年7月15日", bj(2026, 7, 15)),
    ("2026.7.15", bj(2026, 7, 15)),
    ("2026-07-15", bj(2026, 7, 15)),
    ("2026-07-15T08:03:11+08:00", bj(2026, 7, 15, 8, 3, 11)),
    ("2026-07-15T00:03:11Z", bj(2026, 7, 15, 8, 3, 11)),
    ("46218.33542", bj(2026, 7, 15, 8, 3, 0)),          # Excel serial
    (46218, bj(2026, 7, 15)),                           # Excel serial as a number
    (1784073791000, bj(2026, 7, 15, 8, 3, 11)),          # epoch milliseconds
    ("1784073791000", bj(2026, 7, 15, 8, 3, 11)),
    (dt.datetime(2026, 7, 15, 8, 3), bj(2026, 7, 15, 8, 3)),
    (dt.date(2026, 7, 15), bj(2026, 7, 15)),
])
def test_every_contract_date_form(raw, expected):
    assert parse_datetime(raw) == expected


def test_month_day_text_takes_the_known_year():
    assert parse_date("7月15日", default_year=2026) == dt.date(2026, 7, 15)
    with pytest.raises(RowError, match="no year"):
        parse_date("7月15日")


@pytest.mark.parametrize("raw", ["2026-02-30 10:00", "2026/13/01", "昨天下午", "1899-01-01", "2199-01-01", "12"])
def test_impossible_dates_are_row_errors(raw):
    with pytest.raises(RowError):
        parse_datetime(raw)


def test_empty_date_is_none():
    assert parse_datetime("  ") is None and parse_datetime(None) is None


# --- encodings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, label", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030")])
def test_decode_utf8_bom_and_gb18030(encoding, label):
    text = "工单编号,诉求内容\nGD0000000000001,楼道灯坏了\n"
    assert decode(text.encode(encoding)) == (text, label)


# --- personal data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, digits", [
    ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"), ("+86 13812345678", "13812345678"),
    ("+86-138-1234-5678", "13812345678"), ("010-63812345", "01063812345"), ("138****5678", None), ("", None),
])
def test_phone_normalisation(raw, digits):
    assert privacy.normalise_phone(raw) == digits


def test_same_phone_in_any_form_gives_one_key_and_masks_hide_it():
    forms = ["13812345678", "138 1234 5678", "+86 13812345678"]
    assert len({privacy.phone_key(f) for f in forms}) == 1
    assert privacy.mask_phone("+86 13812345678") == "138****5678"
    assert privacy.mask_phone("010-63812345") == "010-****2345"
    assert privacy.mask_phone("138****5678") == "138****5678"
    assert privacy.phone_key("138****5678") is None
    assert privacy.mask_name("张伟") == "张*" and privacy.mask_name("匿名") == "匿名"


# --- hotline -------------------------------------------------------------------------------------

HEADER = "工单编号,来源,来电时间,诉求人,联系电话,诉求类型,诉求内容,诉求地址,所属街道,所属社区,问题分类,承办单位,派单时间,签收时间,首次联系时间,办结时间,办理状态,是否解决,满意度,更新时间"


def _hotline(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


GOOD = ('GD2026071500001,12345,2026/7/15 8:03,张伟,138 1234 5678,投诉,"楼上漏水，""很严重""\n墙皮掉了",'
        '丰台区六里桥街道望园社区3号楼2单元502,六里桥街道,望园,,望园社区居委会,,,,,已派单,,,2026-07-15 09:00:00')


def test_hotline_multiline_quoted_content_and_phone_masking():
    result = hotline.read(_hotline(GOOD), "hotline/a.csv")
    assert not result.rejected
    [record] = result.records
    assert record["content"] == '楼上漏水，"很严重"\n墙皮掉了'
    assert record["received_at"] == bj(2026, 7, 15, 8, 3)
    assert record["complainant_phone_masked"] == "138****5678"
    assert record["complainant_key"] == privacy.phone_key("13812345678")
    assert record["row_number"] == 2


def test_hotline_reordered_and_extra_columns_in_gb18030():
    columns = HEADER.split(",")
    reordered = list(reversed(columns)) + ["工单标签"]
    values = dict(zip(columns, ["400-20260715-0001", "400", "2026年7月15日 08:03", "匿名", "010-63812345", "求助",
                                "电梯坏了", "", "", "六里桥街道保利益丰社区", "", "物业", "", "", "", "", "办理中", "", "",
                                "46218.5"]))
    values["工单标签"] = "重点"
    row = ",".join(values[c] for c in reordered)
    result = hotline.read(_hotline(row, header=",".join(reordered), encoding="gb18030"), "hotline/b.csv")
    assert result.detail["encoding"] == "gb18030"
    [record] = result.records
    assert record["intake_line"] == "400" and record["community"] == "六里桥街道保利益丰社区"
    assert record["extra"] == {"工单标签": "重点"}
    assert record["updated_at"] == bj(2026, 7, 15, 12)


def test_hotline_bad_rows_are_quarantined_with_reasons():
    rows = [
        GOOD.replace("GD2026071500001", ""),
        GOOD.replace("2026/7/15 8:03", "2026-02-30 10:00"),
        GOOD + ",surplus",
        GOOD.replace("GD2026071500001", "XX123"),
        "",
        GOOD,
    ]
    result = hotline.read(_hotline(*rows), "hotline/c.csv")
    assert len(result.records) == 1 and len(result.rejected) == 4
    reasons = [r.reason for r in result.rejected]
    assert "工单编号 is empty" in reasons[0]
    assert "2026-02-30" in reasons[1]
    assert "21 fields where the header has 20" in reasons[2]
    assert "neither GD" in reasons[3]
    assert [r.row_number for r in result.rejected] == [2, 4, 6, 8]


def test_hotline_missing_required_columns_fails_the_file():
    with pytest.raises(FileError, match="lacks 工单编号, 来电时间"):
        hotline.read("姓名,电话\n张三,1\n".encode(), "hotline/x.csv")
    with pytest.raises(FileError, match="empty"):
        hotline.read(b"", "hotline/y.csv")
    with pytest.raises(FileError, match="more than once"):
        hotline.read(_hotline(header=HEADER + ",来电时间"), "hotline/z.csv")


# --- mini-program --------------------------------------------------------------------------------

TICKET = {
    "ticket_id": "MP20260715000123", "type": "repair", "submitted_at": "2026-07-15T08:03:11+08:00",
    "updated_at": 1784078400000, "community": "保利益丰社区", "project_code": "PLYF-01",
    "location": {"building": "3", "unit": "2", "room": "502"}, "title": "卫生间漏水", "content": "楼上卫生间漏水",
    "images": ["https://example.invalid/a.jpg"], "user": {"openid": "oXabc", "nickname": "老王", "phone": "13812345678"},
    "status": "dispatched",
    "events": [{"status": "submitted", "at": "2026-07-15T08:03:11+08:00"},
               {"status": "dispatched", "at": 1784073792000, "by": "工程部"}],
    "rating": None, "rating_comment": None,
}


def test_miniprogram_ticket_types_times_and_new_fields():
    lines = [
        TICKET,
        {**TICKET, "ticket_id": "MP2", "type": "bill_payment", "user": None, "location": None, "events": None,
         "brand_new_field": {"x": 1}},
    ]
    data = "\n".join(json.dumps(t, ensure_ascii=False) for t in lines).encode() + b"\n{\"ticket_id\": \"MP3\", \"ty"
    result = miniprogram.read(data, "miniprogram/a.jsonl")
    first, second = result.records
    assert first["is_resident_demand"] and not second["is_resident_demand"]
    assert first["events"][1]["at"] == "2026-07-15T08:03:12+08:00"
    assert first["user_key"] == privacy.phone_key("13812345678") and first["user_phone_masked"] == "138****5678"
    assert second["extra"] == {"brand_new_field": {"x": 1}}
    [cut] = result.rejected
    assert cut.row_number == 3 and "cut off" in cut.reason


def test_miniprogram_bad_lines():
    data = b"not json\n[1,2]\n" + json.dumps({"type": "repair"}).encode() + b"\n"
    result = miniprogram.read(data, "miniprogram/b.jsonl")
    assert not result.records
    assert ["not valid JSON" in result.rejected[0].reason, "not a ticket" in result.rejected[1].reason,
            "ticket_id is missing" in result.rejected[2].reason] == [True, True, True]
    with pytest.raises(FileError):
        miniprogram.read(b"", "miniprogram/c.jsonl")


# --- reception -----------------------------------------------------------------------------------

RECEPTION_HEADER = ["序号", "日期", "方式", "接待人员", "居民姓名", "联系方式", "住址", "反映问题", "问题类别", "处理情况",
                    "是否办结", "备注"]


def _workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "7月"
    sheet.append(["望园社区民意接待日登记表（2026年7月）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=12)
    sheet.append(RECEPTION_HEADER)
    sheet.append([1, "7月15日", "民意接待日", "李娜", "王芳", "13912345678", "3号楼", "楼道堆物", "环境", "已协调", "是", ""])
    sheet.append([2, None, "敲门", "李娜", "赵强", "139 1234 0000", "5号楼", "暖气不热", "", "", "否", ""])
    sheet.merge_cells("B3:B4")  # one date for two rows
    sheet.append([])
    sheet.append([3, dt.datetime(2026, 7, 20), "日常巡查", "刘洋", None, None, "小区东门", "井盖缺失", "", "", "", ""])
    sheet.append([4, "2026.7.21", "入户", "刘洋", "孙丽", "", "", None, "", "", "", "无内容"])
    sheet.append(["合计", None, None, None, None, None, None, "4件"])
    second = book.create_sheet("敲门行动")
    second.append(RECEPTION_HEADER)
    second.append([1, "2026-07-22", "敲门", "李娜", "匿名", "", "8号楼", "电动车楼道充电", "", "", "", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_reception_workbook_title_merges_blank_and_summary_rows_and_sheets():
    result = reception.read(_workbook(), "reception/reception_望园社区_202607.xlsx")
    dates = [r["entry_date"] for r in result.records]
    assert dates == [dt.date(2026, 7, 15), dt.date(2026, 7, 15), dt.date(2026, 7, 20), dt.date(2026, 7, 22)]
    assert {r["community"] for r in result.records} == {"望园社区"}
    assert [r["sheet"] for r in result.records] == ["7月", "7月", "7月", "敲门行动"]
    [bad] = result.rejected
    assert bad.row_number == 7 and "反映问题 is empty" in bad.reason
    assert result.rows_in == 5  # the blank row and the 合计 row are not records
    assert result.records[1]["resident_contact_masked"] == "139****0000"
    assert len({r["entry_id"] for r in result.records}) == 4


def test_reception_entry_ids_are_stable_across_redelivery():
    first = reception.read(_workbook(), "reception/reception_望园社区_202607.xlsx")
    again = reception.read(_workbook(), "reception/reception_望园社区_202607_v2.xlsx")
    assert [r["entry_id"] for r in first.records] == [r["entry_id"] for r in again.records]


def test_reception_csv_and_unreadable_files():
    text = "金二社区民意接待日登记表（2026年8月）\n" + ",".join(RECEPTION_HEADER) + "\n1,8月3日,接待日,王,,,,路灯不亮,,,,\n"
    result = reception.read(text.encode("utf-8-sig"), "reception/jiner.csv")
    [record] = result.records
    assert record["entry_date"] == dt.date(2026, 8, 3) and record["community"] == "金二社区"
    with pytest.raises(FileError, match="not a readable .xlsx"):
        reception.read(b"this is not a workbook", "reception/reception_x_202607.xlsx")
