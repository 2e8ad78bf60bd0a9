"""Community reception-day, door-knocking and patrol logs (`reception/*.xlsx`, sometimes `*.csv`).

shared/contracts/sources.md, channel 3: kept by hand, one workbook per community and month, a
title row above the header, 合计 rows below. `entry_id` is made by the reader from the entry's content.
"""

from __future__ import annotations

from ingestion.contracts.schema import EXTRA, FILE_ID, ROW_NUMBER, Column, Contract, PersonKey, seed_values

# 合计 / 总计 / 小计 rows are totals, not entries; their marker stands in one of the leading columns.
SUMMARY_MARKERS = ("合计", "总计", "小计")
SUMMARY_COLUMNS = ("序号", "日期", "方式")

PERSON = PersonKey("resident_key", phone="resident_contact", name="resident_name")

CONTRACT = Contract(
    channel="reception",
    label_zh="社区接待日登记",
    folder="reception",
    suffixes=(".xlsx", ".csv"),
    table="raw.reception_entries",
    columns=(
        FILE_ID,
        Column("sheet", nullable=False),
        ROW_NUMBER,
        Column("entry_id", nullable=False),
        Column("community"),
        Column("serial_no", source="序号"),
        Column("entry_date", "date", source="日期", nullable=False),
        Column("method", source="方式"),
        Column("staff", source="接待人员"),
        *PERSON.columns(
            Column("resident_name", source="居民姓名", personal=True),
            Column("resident_contact", source="联系方式", personal=True),
        ),
        Column("address", source="住址"),
        Column("issue_text", source="反映问题", nullable=False),
        Column("issue_category", source="问题类别"),
        Column("handling", source="处理情况"),
        Column("is_closed", source="是否办结"),
        Column("remarks", source="备注"),
        EXTRA,
    ),
    key_columns=("file_id", "sheet", "row_number"),
    record_id="entry_id",
    dated_by="entry_date",
    required=("日期", "反映问题"),
    id_pattern=r"^RC-[0-9a-f]{20}$",  # "RC-" and 20 hex digits of a content hash
    person=PERSON,
    text_columns=('issue_text',),
    vocabularies={
        # 方式 as staff write it (spaces dropped), and 是否办结's words: the seeds that give their meaning.
        "method": seed_values("reception_methods", "method_raw"),
        "is_closed": seed_values("source_values", "source_value", source_system="reception", column_name="is_closed"),
    },
)
