-- 0014: the cells whose complaints changed (issue 17: a daily cost that stays flat as history grows).
-- The daily aggregates of the marts (fct_daily_complaint_counts, fct_daily_reports_by_key) rebuild only
-- the day × community × category cells that may differ since their last build. Which cells a build of
-- fct_complaints touched — those of the rows it deleted (also the cell a complaint left, when a newer
-- version moved it to another day or community) and of the rows it inserted — is told by triggers on
-- that table (created by the model's post-hook), which append them here; each aggregate remembers the
-- last change it has read (macros/daily_scope.sql).
create table ops.complaint_day_changes (
    change_id      bigserial   primary key,
    received_date  date        not null,   -- '-infinity': fct_complaints was built whole, every cell changed
    community_id   text,
    category_code  text,
    noted_at       timestamptz not null default now()
);

-- One function for every trigger: each names its transition table (the rows deleted, inserted, or an
-- update's old or new rows) `changed`.
create function ops.note_complaint_days() returns trigger language plpgsql as $$
begin
    insert into ops.complaint_day_changes (received_date, community_id, category_code)
    select distinct received_date, community_id, category_code from changed where received_date is not null;
    return null;
end $$;

-- Per daily aggregate: the as-of moment of its last build and the last change it read.
create table ops.aggregate_watermarks (
    relation           text        primary key,   -- 'marts.fct_daily_complaint_counts'
    as_of_at           timestamptz not null,
    through_change_id  bigint,
    recorded_at        timestamptz not null default now()
);

-- Per daily aggregate, the cells its running build rebuilds (or whole days); written by the build's
-- pre-hook, read by the build, emptied by its post-hook.
create table ops.aggregate_scope (
    relation       text    not null,
    received_date  date    not null,
    whole_day      boolean not null,
    community_id   text,
    category_code  text
);
create index aggregate_scope_relation_day on ops.aggregate_scope (relation, received_date);

grant select, insert, delete on ops.complaint_day_changes, ops.aggregate_scope to minqing_pipeline;
grant select, insert, update, delete on ops.aggregate_watermarks to minqing_pipeline;
grant usage on sequence ops.complaint_day_changes_change_id_seq to minqing_pipeline;
grant execute on function ops.note_complaint_days() to minqing_pipeline;
