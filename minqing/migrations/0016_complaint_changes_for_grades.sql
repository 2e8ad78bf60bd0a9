-- 0016: the change log names the complaints, and mart_complaint_grades follows fct_complaints (issue 17:
-- a daily cost flat in history).
--
-- ops.complaint_day_changes (0014) noted the day × community × category cells of the rows fct_complaints
-- deleted and inserted, for the daily aggregates. mart_complaint_grades rebuilds single complaints: those
-- fct_complaints changed, the later reports of the same address and category (their repeat flag reads
-- the report before them), those of a sentiment grade that changed, those the as-of moment reached. So
-- the triggers now note one row per changed complaint row — its cell as before, and its id, moment of
-- receipt and address key — and the aggregates read the distinct cells of them as before.
alter table ops.complaint_day_changes
    add column complaint_id text,
    add column received_at  timestamptz,
    add column address_key  text;

create or replace function ops.note_complaint_days() returns trigger language plpgsql as $$
begin
    insert into ops.complaint_day_changes (received_date, community_id, category_code, complaint_id, received_at,
                                           address_key)
    select received_date, community_id, category_code, complaint_id, received_at, address_key
    from changed where received_date is not null;
    return null;
end $$;

-- The complaints the running build of mart_complaint_grades rebuilds: written by its pre-hook, read by the
-- build, emptied by its post-hook (macros/grade_scope.sql). A complaint graded again only because its base
-- grade changed keeps its repeat flag (its row and those of its address are as they were): the flag is
-- carried here, so that the build need not look for the report before it.
create table ops.complaint_grade_scope (
    complaint_id      text primary key,
    is_repeat_address boolean   -- null: to be found again
);

-- The base grades (mart_sentiment_code, community × category per base period) the complaint grades were
-- last built with: a base grade that differs now rebuilds the complaints of its cell.
create table ops.complaint_grade_bases (
    period_start  date not null,
    community_id  text not null,
    category_code text not null,
    grade         text not null,
    reasons       text,
    primary key (period_start, community_id, category_code)
);

grant select, insert, delete on ops.complaint_grade_scope to minqing_pipeline;
grant select, insert, update, delete on ops.complaint_grade_bases to minqing_pipeline;
