"""The property mini-program's ticket feed (`miniprogram/*.jsonl`): one ticket version per line.

shared/contracts/sources.md, channel 2. Times are ISO 8601 with an offset or epoch milliseconds;
fields may be missing or null and new ones may appear (kept in `extra`). Bill payments and
renovation applications come through the same feed: loaded and counted, not resident demands.
"""

from __future__ import annotations

from ingestion.contracts.schema import EXTRA, FILE_ID, ROW_NUMBER, Column, Contract, PersonKey, seed_values

TICKET_TYPES = ("repair", "complaint", "bill_payment", "decoration_application")
RESIDENT_DEMAND_TYPES = frozenset({"repair", "complaint"})
# The top-level fields the feed sends; any other is kept in `extra`.
FIELDS = frozenset({
    "ticket_id", "type", "submitted_at", "updated_at", "community", "project_code", "location",
    "title", "content", "images", "user", "status", "events", "rating", "rating_comment",
})
TIME_FORMS = "ISO 8601 with an offset (2026-07-15T08:03:11+08:00) or epoch milliseconds (1784073791000)"

PERSON = PersonKey("user_key", phone="user_phone", name="user_nickname", account="user_openid")

CONTRACT = Contract(
    channel="miniprogram",
    label_zh="物业小程序",
    folder="miniprogram",
    suffixes=(".jsonl",),
    table="raw.miniprogram_tickets",
    columns=(
        FILE_ID,
        ROW_NUMBER,
        Column("ticket_id", source="ticket_id", nullable=False),
        Column("ticket_type", source="type"),
        Column("is_resident_demand", "boolean", nullable=False),
        Column("submitted_at", "timestamptz", source="submitted_at", nullable=False),
        Column("updated_at", "timestamptz", source="updated_at", nullable=False),
        Column("community", source="community"),
        Column("project_code", source="project_code"),
        Column("building", source="location.building"),
        Column("unit", source="location.unit"),
        Column("room", source="location.room"),
        Column("title", source="title"),
        Column("content", source="content"),
        Column("images", "jsonb", source="images"),
        *PERSON.columns(
            Column("user_openid", source="user.openid", personal=True),
            Column("user_nickname", source="user.nickname", personal=True),
            Column("user_phone", source="user.phone", personal=True),
        ),
        Column("status", source="status"),
        Column("events", "jsonb", source="events"),
        Column("rating", source="rating"),
        Column("rating_comment", source="rating_comment"),
        EXTRA,
    ),
    key_columns=("file_id", "row_number"),
    record_id="ticket_id",
    dated_by="submitted_at",
    required=("ticket_id", "submitted_at"),
    # The contract shows ids like MP20260715000123 but does not fix their form; only what no id can
    # be (blank, whitespace, punctuation soup, absurd length) is ruled out.
    id_pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{1,63}$",
    person=PERSON,
    text_columns=('title', 'content'),
    vocabularies={
        "ticket_type": TICKET_TYPES,
        "status": seed_values("status_codes", "source_status", source_system="miniprogram"),
    },
)
