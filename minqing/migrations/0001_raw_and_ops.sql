-- 0001: the landing zone of the warehouse.
--
-- raw  : RESTRICTED. Records exactly as the sources sent them, personal data (names, phones, openids)
--        in clear beside its keyed hash and masked form, and the quarantine with raw content.
--        Nothing downstream reads a clear personal column; only the pipeline role may read this schema.
-- ops  : bookkeeping without personal data: which files arrived, what became of every row.

create schema if not exists raw;
create schema if not exists ops;
revoke all on schema raw from public;

create table ops.ingested_files (
    file_id          bigserial primary key,
    sha256           text        not null unique,
    channel          text        not null check (channel in ('hotline', 'miniprogram', 'reception')),
    path             text        not null,        -- relative to the landing folder, at first sight
    size_bytes       bigint      not null,
    status           text        not null check (status in ('loaded', 'quarantined')),
    rows_in          integer     not null,
    rows_loaded      integer     not null,
    rows_quarantined integer     not null,
    reason           text,                        -- why a whole file was quarantined
    detail           jsonb       not null default '{}'::jsonb,  -- encoding, sheets, columns seen
    ingested_at      timestamptz not null default now(),
    constraint rows_add_up check (rows_in = rows_loaded + rows_quarantined)
);

-- Every (path, content) pair seen, so that a re-delivery under another name is on record.
create table ops.file_sightings (
    path          text        not null,
    sha256        text        not null,
    file_id       bigint      not null references ops.ingested_files (file_id),
    first_seen_at timestamptz not null default now(),
    primary key (path, sha256)
);

create table raw.quarantine (
    quarantine_id    bigserial primary key,
    file_id          bigint      not null references ops.ingested_files (file_id),
    channel          text        not null,
    path             text        not null,
    sheet            text,                   -- reception workbooks
    row_number       integer,                -- line (CSV, JSONL) or sheet row; null for a whole file
    source_record_id text,                   -- the id, when one could be read
    raw_content      text,
    reason           text        not null,
    stage            text        not null default 'ingest' check (stage in ('ingest', 'validate')),
    check_name       text,                   -- the expectation that failed, at stage 'validate'
    quarantined_at   timestamptz not null default now()
);
create index on raw.quarantine (file_id);

-- One row per work-order version, as exported by the 12345 / 400 hotlines.
create table raw.hotline_work_orders (
    file_id                  bigint      not null references ops.ingested_files (file_id),
    row_number               integer     not null,
    work_order_id            text        not null,   -- 工单编号
    intake_line              text        not null,   -- 来源: 12345 | 400
    received_at              timestamptz not null,   -- 来电时间
    complainant_name         text,                   -- 诉求人 (PII)
    complainant_phone        text,                   -- 联系电话 (PII)
    complainant_key          text,                   -- HMAC of the normalised phone
    complainant_name_masked  text,
    complainant_phone_masked text,
    demand_type              text,                   -- 诉求类型
    content                  text,                   -- 诉求内容
    address                  text,                   -- 诉求地址
    street                   text,                   -- 所属街道
    community                text,                   -- 所属社区, as sent
    hotline_category         text,                   -- 问题分类
    handling_unit            text,                   -- 承办单位
    dispatched_at            timestamptz,            -- 派单时间
    accepted_at              timestamptz,            -- 签收时间
    first_contact_at         timestamptz,            -- 首次联系时间
    closed_at                timestamptz,            -- 办结时间
    status                   text,                   -- 办理状态
    resolved                 text,                   -- 是否解决
    satisfaction             text,                   -- 满意度
    updated_at               timestamptz not null,   -- 更新时间
    extra                    jsonb,                  -- columns the contract does not name
    primary key (file_id, row_number)
);
create index on raw.hotline_work_orders (work_order_id, updated_at desc);

-- One row per ticket version, as pulled from the property mini-program's API.
create table raw.miniprogram_tickets (
    file_id              bigint      not null references ops.ingested_files (file_id),
    row_number           integer     not null,        -- line in the JSONL file
    ticket_id            text        not null,
    ticket_type          text,
    is_resident_demand   boolean     not null,        -- repair / complaint; bills and renovation are not
    submitted_at         timestamptz not null,
    updated_at           timestamptz not null,
    community            text,
    project_code         text,
    building             text,
    unit                 text,
    room                 text,
    title                text,
    content              text,
    images               jsonb,
    user_openid          text,                        -- PII
    user_nickname        text,                        -- PII
    user_phone           text,                        -- PII
    user_key             text,                        -- HMAC of the phone, else of the openid
    user_nickname_masked text,
    user_phone_masked    text,
    status               text,
    events               jsonb,                       -- [{status, at (ISO 8601), by?}]
    rating               text,
    rating_comment       text,
    extra                jsonb,                       -- fields the contract does not name
    primary key (file_id, row_number)
);
create index on raw.miniprogram_tickets (ticket_id, updated_at desc);

-- One row per entry of a reception-day, door-knocking or patrol log.
create table raw.reception_entries (
    file_id              bigint  not null references ops.ingested_files (file_id),
    sheet                text    not null,
    row_number           integer not null,           -- row in the sheet (CSV: line)
    entry_id             text    not null,           -- stable across re-deliveries of the workbook
    community            text,                       -- from the title row or the file name
    serial_no            text,                       -- 序号
    entry_date           date    not null,           -- 日期
    method               text,                       -- 方式, as written
    staff                text,                       -- 接待人员
    resident_name        text,                       -- 居民姓名 (PII)
    resident_contact     text,                       -- 联系方式 (PII)
    resident_key         text,
    resident_name_masked text,
    resident_contact_masked text,
    address              text,                       -- 住址
    issue_text           text    not null,           -- 反映问题
    issue_category       text,                       -- 问题类别, as written
    handling             text,                       -- 处理情况
    is_closed            text,                       -- 是否办结, as written
    remarks              text,                       -- 备注
    extra                jsonb,
    primary key (file_id, sheet, row_number)
);
create index on raw.reception_entries (entry_id);
