-- 0015: the raw tables range-partitioned by Beijing month of receipt (issue 17: old months can be
-- detached for archive; README "Archiving a month of raw").
--
--   raw.hotline_work_orders   by received_at (timestamptz)  primary key (file_id, row_number, received_at)
--   raw.miniprogram_tickets   by submitted_at (timestamptz) primary key (file_id, row_number, submitted_at)
--   raw.reception_entries     by entry_date (date)          primary key (file_id, sheet, row_number, entry_date)
--
-- A month partition is <table>_YYYY_MM (raw.hotline_work_orders_2026_07) and holds the rows from
-- the first day of the month 00:00 Beijing time (Asia/Shanghai, +08) to the first of the next;
-- <table>_default holds the rows of a month without a partition. A primary key of a partitioned
-- table must hold its partition key, so each key gains that column: (file_id, row_number) stays
-- unique by construction (one loader writes one row per line), no longer by an index of its own.
-- No code writes these tables with ON CONFLICT; the deletes and updates of quality/ and
-- minqing/privacy.py match on the contract's key columns and work on a partitioned table unchanged.
--
-- ops.ensure_raw_partitions(through, months_ahead) creates the months that are missing and moves the
-- rows the default partition holds for them; the loader calls it at the start of every ingest, with
-- the run's day and ingestion.raw_partition_months_ahead of minqing/settings.yml, so a month's
-- partition exists before its rows arrive, and rows of an unexpected month (a backfill, a late
-- delivery for a month without a partition), loaded into the default, move out at the next call.
--
-- The existing tables are converted with their rows: each is renamed, a partitioned table with the
-- same columns, defaults, foreign key and grants takes its name, the months its rows need are
-- created, the rows are copied (counts checked), the old table is dropped. The views over raw (dbt's
-- staging views, and the views over those) would block the drop and would keep reading the old
-- table: they are dropped first and created again afterwards with the same definition, options,
-- owner, grants and comments.

-- --- helpers of this migration (pg_temp: gone at the end of the session) ----------------------------

-- Give `target` the grants of the ACL `acl` (of another relation): what `target` has is revoked
-- first, so that it ends with exactly those grants (its owner keeps its implicit rights).
create function pg_temp.copy_grants(target regclass, acl aclitem[], owner oid) returns void
language plpgsql as $$
declare
    g record;
begin
    for g in
        select distinct a.grantee from pg_class c, aclexplode(c.relacl) a
         where c.oid = target and a.grantee <> c.relowner
    loop
        execute format('revoke all on %s from %s', target,
                       case when g.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(g.grantee)) end);
    end loop;
    for g in select * from aclexplode(acl) a where a.grantee <> owner loop
        execute format('grant %s on %s to %s%s', g.privilege_type, target,
                       case when g.grantee = 0 then 'public' else quote_ident(pg_get_userbyid(g.grantee)) end,
                       case when g.is_grantable then ' with grant option' else '' end);
    end loop;
end
$$;

-- Comments of a relation and its columns (by column name) onto another.
create function pg_temp.copy_comments(target regclass, table_comment text, column_comments jsonb) returns void
language plpgsql as $$
declare
    c record;
begin
    if table_comment is not null then
        execute format('comment on table %s is %L', target, table_comment);
    end if;
    for c in select key, value from jsonb_each_text(column_comments) loop
        execute format('comment on column %s.%I is %L', target, c.key, c.value);
    end loop;
end
$$;

-- --- the views over raw: recorded, dropped, created again at the end --------------------------------

create temp table raw_views on commit drop as
with recursive dependents (view_oid, level) as (
    select distinct r.ev_class, 1
      from pg_depend as d
      join pg_rewrite as r on r.oid = d.objid
     where d.classid = 'pg_rewrite'::regclass
       and d.refclassid = 'pg_class'::regclass
       and d.refobjid in ('raw.hotline_work_orders'::regclass, 'raw.miniprogram_tickets'::regclass,
                          'raw.reception_entries'::regclass)
    union all
    select r.ev_class, dependents.level + 1
      from dependents
      join pg_depend as d on d.refobjid = dependents.view_oid
                          and d.refclassid = 'pg_class'::regclass and d.classid = 'pg_rewrite'::regclass
      join pg_rewrite as r on r.oid = d.objid
     where r.ev_class <> dependents.view_oid
)
select c.oid as view_oid,
       n.nspname as schema_name,
       c.relname as view_name,
       c.relkind,
       max(dependents.level) as level,
       pg_get_viewdef(c.oid) as definition,
       c.reloptions,
       c.relowner,
       c.relacl,
       obj_description(c.oid, 'pg_class') as view_comment,
       (select coalesce(jsonb_object_agg(a.attname, col_description(c.oid, a.attnum))
                            filter (where col_description(c.oid, a.attnum) is not null), '{}'::jsonb)
          from pg_attribute as a
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as column_comments
  from dependents
  join pg_class as c on c.oid = dependents.view_oid
  join pg_namespace as n on n.oid = c.relnamespace
 group by c.oid, n.nspname, c.relname, c.relkind, c.reloptions, c.relowner, c.relacl;

do $$
declare
    v record;
begin
    if exists (select from raw_views where relkind <> 'v') then
        raise exception 'migration 0015: a materialized view depends on a raw table (%); drop it first',
            (select string_agg(format('%I.%I', schema_name, view_name), ', ') from raw_views where relkind <> 'v');
    end if;
    if exists (select from pg_trigger where tgrelid in (select view_oid from raw_views))
       or exists (select from pg_rewrite where ev_class in (select view_oid from raw_views) and rulename <> '_RETURN') then
        raise exception 'migration 0015: a view over raw has triggers or rules this migration does not carry over';
    end if;
    for v in select * from raw_views order by level desc loop
        execute format('drop view %I.%I', v.schema_name, v.view_name);
    end loop;
end
$$;

-- --- the old tables step aside ----------------------------------------------------------------------

do $$
declare
    t text;
begin
    foreach t in array array['hotline_work_orders', 'miniprogram_tickets', 'reception_entries'] loop
        if exists (select from pg_trigger where tgrelid = format('raw.%I', t)::regclass and not tgisinternal)
           or exists (select from pg_policy where polrelid = format('raw.%I', t)::regclass)
           or (select relrowsecurity from pg_class where oid = format('raw.%I', t)::regclass) then
            raise exception 'migration 0015: raw.% has triggers, policies or row-level security this migration does not carry over', t;
        end if;
        execute format('alter table raw.%I rename to %I', t, t || '_unpartitioned');
        execute format('alter table raw.%I rename constraint %I to %I', t || '_unpartitioned', t || '_pkey',
                       t || '_unpartitioned_pkey');
    end loop;
end
$$;

-- The same columns and defaults (LIKE), partitioned by the month of receipt.
create table raw.hotline_work_orders (like raw.hotline_work_orders_unpartitioned including defaults including constraints)
    partition by range (received_at);
create table raw.miniprogram_tickets (like raw.miniprogram_tickets_unpartitioned including defaults including constraints)
    partition by range (submitted_at);
create table raw.reception_entries (like raw.reception_entries_unpartitioned including defaults including constraints)
    partition by range (entry_date);

create table raw.hotline_work_orders_default partition of raw.hotline_work_orders default;
create table raw.miniprogram_tickets_default partition of raw.miniprogram_tickets default;
create table raw.reception_entries_default partition of raw.reception_entries default;

-- --- the month partitions ------------------------------------------------------------------------

-- The partition of `parent` for the Beijing month starting `month`, created when missing: as a table
-- of its own, filled with the rows the default partition holds for the month (PostgreSQL refuses a
-- new partition while the default has rows of its range), then attached (which builds its indexes
-- and foreign keys from the parent's). True when created; false when it exists, and false with a
-- warning when a table of its name exists but is no partition (a detached month not yet archived:
-- rows of that month stay in the default partition until it is dropped).
create function ops.raw_month_partition(parent regclass, month date) returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
set timezone = 'Asia/Shanghai'
as $$
declare
    parent_schema text;
    parent_name   text;
    part_name     text;
    key_column    text;
    key_type      regtype;
    default_part  regclass;
    existing      oid;
    columns       text;
    lower_bound   text;
    upper_bound   text;
begin
    if month <> date_trunc('month', month)::date then
        raise exception 'ops.raw_month_partition: % is not the first day of a month', month;
    end if;
    select n.nspname, c.relname, a.attname, a.atttypid, nullif(p.partdefid, 0)::regclass
      into parent_schema, parent_name, key_column, key_type, default_part
      from pg_partitioned_table as p
      join pg_class as c on c.oid = p.partrelid
      join pg_namespace as n on n.oid = c.relnamespace
      join pg_attribute as a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
     where p.partrelid = parent;
    if not found then
        raise exception 'ops.raw_month_partition: % is not a partitioned table', parent;
    end if;
    part_name := parent_name || '_' || to_char(month, 'YYYY_MM');

    select c.oid into existing
      from pg_class as c join pg_namespace as n on n.oid = c.relnamespace
     where n.nspname = parent_schema and c.relname = part_name;
    if found then
        if not exists (select from pg_inherits where inhrelid = existing and inhparent = parent) then
            raise warning '%.% exists but is no partition of % (a detached month not yet archived?): rows of % stay in the default partition',
                parent_schema, part_name, parent, to_char(month, 'YYYY-MM');
        end if;
        return false;
    end if;

    if key_type = 'date'::regtype then
        lower_bound := month::text;
        upper_bound := (month + interval '1 month')::date::text;
    elsif key_type = 'timestamptz'::regtype then
        -- midnight in Beijing (the function runs with timezone Asia/Shanghai): '2026-07-01 00:00:00+08'
        lower_bound := month::timestamptz::text;
        upper_bound := (month + interval '1 month')::date::timestamptz::text;
    else
        raise exception 'ops.raw_month_partition: % is partitioned by %, neither date nor timestamptz', parent, key_type;
    end if;

    select string_agg(quote_ident(attname), ', ' order by attnum) into columns
      from pg_attribute where attrelid = parent and attnum > 0 and not attisdropped;

    execute format('create table %I.%I (like %s including defaults including constraints)',
                   parent_schema, part_name, parent);
    if default_part is not null then
        execute format('with moved as (delete from %s where %I >= %L and %I < %L returning %s) '
                       'insert into %I.%I (%s) select %s from moved',
                       default_part, key_column, lower_bound, key_column, upper_bound, columns,
                       parent_schema, part_name, columns, columns);
    end if;
    execute format('alter table %s attach partition %I.%I for values from (%L) to (%L)',
                   parent, parent_schema, part_name, lower_bound, upper_bound);
    return true;
end
$$;

-- The month partitions of the raw tables that are missing, created; returns their names. For each
-- raw table: every month the default partition holds rows of (they move into the new partition),
-- and every month from the month of `through` to `months_ahead` months after it (only those: a
-- stray date of 2005 in the default makes the partition of its month, not 20 years of empty ones).
-- One caller at a time (an advisory lock); security definer, so that the pipeline role,
-- which does not own the tables, may call it.
create function ops.ensure_raw_partitions(through date, months_ahead integer)
returns setof text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set timezone = 'Asia/Shanghai'
as $$
declare
    parent       regclass;
    key_column   text;
    key_type     regtype;
    default_part regclass;
    in_default   date[];
    month        date;
begin
    if through is null or months_ahead is null or months_ahead < 0 then
        raise exception 'ops.ensure_raw_partitions: a day and months_ahead >= 0 are needed (got %, %)', through, months_ahead;
    end if;
    perform pg_advisory_xact_lock(7204315);  -- 0015's key; warehouse.MIGRATION_LOCK is 7204301
    foreach parent in array array['raw.hotline_work_orders', 'raw.miniprogram_tickets', 'raw.reception_entries']::regclass[] loop
        select a.attname, a.atttypid, nullif(p.partdefid, 0)::regclass
          into key_column, key_type, default_part
          from pg_partitioned_table as p
          join pg_attribute as a on a.attrelid = p.partrelid and a.attnum = p.partattrs[0]
         where p.partrelid = parent;
        in_default := '{}';
        if default_part is not null then
            -- with timezone Asia/Shanghai, date_trunc of a timestamptz is the Beijing month
            execute format('select coalesce(array_agg(distinct date_trunc(''month'', %I)::date), ''{}'') from %s',
                           key_column, default_part)
               into in_default;
        end if;
        for month in
            select m from unnest(in_default) as m
            union
            select generate_series(date_trunc('month', through),
                                   date_trunc('month', through) + make_interval(months => months_ahead),
                                   interval '1 month')::date
            order by 1
        loop
            if ops.raw_month_partition(parent, month) then
                return next format('%s_%s', parent, to_char(month, 'YYYY_MM'));
            end if;
        end loop;
    end loop;
end
$$;

revoke all on function ops.raw_month_partition(regclass, date) from public;
revoke all on function ops.ensure_raw_partitions(date, integer) from public;
grant execute on function ops.ensure_raw_partitions(date, integer) to minqing_pipeline;

-- --- the rows move ---------------------------------------------------------------------------------

do $$
declare
    t       record;
    month   date;
    before  bigint;
    after   bigint;
begin
    for t in select * from (values ('hotline_work_orders', 'received_at'),
                                   ('miniprogram_tickets', 'submitted_at'),
                                   ('reception_entries', 'entry_date')) as v (name, key_column) loop
        for month in execute format(
                'select distinct (date_trunc(''month'', %I %s))::date from raw.%I order by 1',
                t.key_column, case when t.name = 'reception_entries' then '' else 'at time zone ''Asia/Shanghai''' end,
                t.name || '_unpartitioned') loop
            perform ops.raw_month_partition(format('raw.%I', t.name)::regclass, month);
        end loop;
        execute format('insert into raw.%I select * from raw.%I', t.name, t.name || '_unpartitioned');
        execute format('select count(*) from raw.%I', t.name || '_unpartitioned') into before;
        execute format('select count(*) from only raw.%I', t.name || '_default') into after;
        if after <> 0 then
            raise exception 'migration 0015: % rows of raw.% landed in the default partition', after, t.name;
        end if;
        execute format('select count(*) from raw.%I', t.name) into after;
        if after <> before then
            raise exception 'migration 0015: raw.% has % rows, the table it replaces %', t.name, after, before;
        end if;
    end loop;
end
$$;

-- --- keys, indexes, grants, comments; the old tables go --------------------------------------------

create temp table raw_tables on commit drop as
select c.relname as name, c.relacl, c.relowner, obj_description(c.oid, 'pg_class') as table_comment,
       (select coalesce(jsonb_object_agg(a.attname, col_description(c.oid, a.attnum))
                            filter (where col_description(c.oid, a.attnum) is not null), '{}'::jsonb)
          from pg_attribute as a
         where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as column_comments
  from pg_class as c
 where c.relnamespace = 'raw'::regnamespace
   and c.relname in ('hotline_work_orders_unpartitioned', 'miniprogram_tickets_unpartitioned',
                     'reception_entries_unpartitioned');

drop table raw.hotline_work_orders_unpartitioned;
drop table raw.miniprogram_tickets_unpartitioned;
drop table raw.reception_entries_unpartitioned;

alter table raw.hotline_work_orders add primary key (file_id, row_number, received_at);
alter table raw.hotline_work_orders add foreign key (file_id) references ops.ingested_files (file_id);
create index on raw.hotline_work_orders (work_order_id, updated_at desc);

alter table raw.miniprogram_tickets add primary key (file_id, row_number, submitted_at);
alter table raw.miniprogram_tickets add foreign key (file_id) references ops.ingested_files (file_id);
create index on raw.miniprogram_tickets (ticket_id, updated_at desc);

alter table raw.reception_entries add primary key (file_id, sheet, row_number, entry_date);
alter table raw.reception_entries add foreign key (file_id) references ops.ingested_files (file_id);
create index on raw.reception_entries (entry_id);

select pg_temp.copy_grants(format('raw.%I', replace(name, '_unpartitioned', ''))::regclass, relacl, relowner),
       pg_temp.copy_comments(format('raw.%I', replace(name, '_unpartitioned', ''))::regclass, table_comment,
                             column_comments)
  from raw_tables;

comment on table raw.hotline_work_orders is
    'One row per work-order version of the 12345 / 400 exports (restricted: personal data in clear). Partitioned by the Beijing month of received_at: hotline_work_orders_YYYY_MM, hotline_work_orders_default (migration 0015).';
comment on table raw.miniprogram_tickets is
    'One row per ticket version pulled from the property mini-program (restricted: personal data in clear). Partitioned by the Beijing month of submitted_at: miniprogram_tickets_YYYY_MM, miniprogram_tickets_default (migration 0015).';
comment on table raw.reception_entries is
    'One row per entry of a reception-day, door-knocking or patrol log (restricted: personal data in clear). Partitioned by the month of entry_date: reception_entries_YYYY_MM, reception_entries_default (migration 0015).';

-- --- the views over raw, as they were ------------------------------------------------------------

do $$
declare
    v record;
begin
    for v in select * from raw_views order by level loop
        execute format('create view %I.%I%s as %s', v.schema_name, v.view_name,
                       case when v.reloptions is null then ''
                            else format(' with (%s)', array_to_string(v.reloptions, ', ')) end,
                       rtrim(v.definition, E'; \n'));
        if v.relowner <> (select oid from pg_roles where rolname = current_user) then
            execute format('alter view %I.%I owner to %I', v.schema_name, v.view_name, pg_get_userbyid(v.relowner));
        end if;
        perform pg_temp.copy_grants(format('%I.%I', v.schema_name, v.view_name)::regclass, v.relacl, v.relowner);
        if v.view_comment is not null then
            execute format('comment on view %I.%I is %L', v.schema_name, v.view_name, v.view_comment);
        end if;
        perform pg_temp.copy_comments(format('%I.%I', v.schema_name, v.view_name)::regclass, null, v.column_comments);
    end loop;
end
$$;

analyze raw.hotline_work_orders;
analyze raw.miniprogram_tickets;
analyze raw.reception_entries;
