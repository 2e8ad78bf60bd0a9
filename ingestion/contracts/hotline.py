"""The 12345 / 400 hotline work-order export (`hotline/*.csv`): one row per work-order version.

shared/contracts/sources.md, channel 1. The header is Chinese and may come in any order; columns
the contract does not name are kept in `extra`.
"""

from __future__ import annotations

from ingestion.contracts.schema import (
    EXTRA, FILE_ID, ROW_NUMBER, Column, Contract, PersonKey, seed_mapping, seed_values,
)

# 工单编号: GD + 13 digits (12345) or 400-YYYYMMDD-NNNN (the property company's 400 line).
ID_12345 = r"^GD\d{13}$"
ID_400 = r"^400-\d{8}-\d{4}$"
INTAKE_LINES = ("12345", "400")
# How exports spell 来源 (after NFKC, spaces dropped): the line each spelling means.
INTAKE_LINE_SPELLINGS = {
    "12345": "12345", "12345热线": "12345", "12345市民热线": "12345", "12345市民服务热线": "12345",
    "市民服务热线": "12345", "市民热线": "12345", "北京12345": "12345", "12345.0": "12345",
    "400": "400", "400热线": "400", "400客服": "400", "400服务热线": "400", "400客服热线": "400",
    "物业400": "400", "物业400热线": "400", "物业金管家400": "400", "400.0": "400",
}
DEMAND_TYPES = ("投诉", "求助", "咨询", "建议", "举报", "表扬")  # 诉求类型

PERSON = PersonKey("complainant_key", phone="complainant_phone", name="complainant_name")

CONTRACT = Contract(
    channel="hotline",
    label_zh="12345/400热线",
    folder="hotline",
    suffixes=(".csv",),
    table="raw.hotline_work_orders",
    columns=(
        FILE_ID,
        ROW_NUMBER,
        Column("work_order_id", source="工单编号", nullable=False),
        Column("intake_line", source="来源", nullable=False),
        Column("received_at", "timestamptz", source="来电时间", nullable=False),
        *PERSON.columns(
            Column("complainant_name", source="诉求人", personal=True),
            Column("complainant_phone", source="联系电话", personal=True),
        ),
        Column("demand_type", source="诉求类型"),
        Column("content", source="诉求内容"),
        Column("address", source="诉求地址"),
        Column("street", source="所属街道"),
        Column("community", source="所属社区"),
        Column("hotline_category", source="问题分类"),
        Column("handling_unit", source="承办单位"),
        Column("dispatched_at", "timestamptz", source="派单时间"),
        Column("accepted_at", "timestamptz", source="签收时间"),
        Column("first_contact_at", "timestamptz", source="首次联系时间"),
        Column("closed_at", "timestamptz", source="办结时间"),
        Column("status", source="办理状态"),
        Column("resolved", source="是否解决"),
        Column("satisfaction", source="满意度"),
        Column("updated_at", "timestamptz", source="更新时间", nullable=False),
        EXTRA,
    ),
    key_columns=("file_id", "row_number"),
    record_id="work_order_id",
    dated_by="received_at",
    required=("工单编号", "来电时间", "诉求内容", "更新时间"),
    id_pattern=r"^(GD\d{13}|400-\d{8}-\d{4})$",
    person=PERSON,
    text_columns=('content',),
    vocabularies={
        "intake_line": INTAKE_LINES,
        "status": seed_values("status_codes", "source_status", source_system="hotline"),  # 办理状态
        # 是否解决 and 满意度: empty until the return visit; what each value means is the seed's.
        "resolved": seed_values("source_values", "source_value", source_system="hotline", column_name="resolved"),
        "satisfaction": seed_values("source_values", "source_value", source_system="hotline",
                                    column_name="satisfaction"),
        "demand_type": DEMAND_TYPES,
        # 所属街道: a street this warehouse serves, as its exports spell it (empty: placed by its community)
        "street": seed_values("street_aliases", "alias"),
    },
)

# Each time column's source header, and the source headers in the contract's order.
HEADER = CONTRACT.header
SATISFACTION = seed_mapping("source_values", "source_value", "value", source_system="hotline",
                            column_name="satisfaction")
