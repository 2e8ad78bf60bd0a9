-- 0020: Open311 GeoReport v2 (issue 21): the street's service requests in the open standard civic tools
-- read, served by `minqing serve` from marts.rpt_open311_requests.
--
-- open311_reader: the API's role. It reads only the marts dbt grants it (those whose meta says open311:
-- macros/access.sql), every row as bi_reader does, read-only. open311: the API's login, a member of
-- open311_reader only (docker-compose.yml's open311 service connects as it). `minqing serve` connects with
-- OPEN311_DATABASE_URL (that login, or any granted open311_reader) or else the warehouse's URL, and sets
-- this role on every connection, so the API sees what the role sees whoever connects. The pipeline may
-- take the role (for its own checks and `minqing serve` on its URL).
--
-- ops.open311_salt: a random value, made once per warehouse and readable only by the pipeline, from which
-- each complaint's public id is made (md5 of the salt and the complaint id): a stable id that neither
-- shows nor lets anyone recompute the hotline's 工单编号. Changing it changes every public id.

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'open311_reader') then
        create role open311_reader nologin;
    end if;
    -- the API's own login (no password until one is set: `minqing access password open311 --password-env …`)
    if not exists (select from pg_catalog.pg_roles where rolname = 'open311') then
        create role open311 login nosuperuser nocreaterole nocreatedb;
    end if;
    execute format('grant connect on database %I to open311_reader, open311', current_database());
end
$$;

alter role open311_reader set default_transaction_read_only = on;
alter role open311_reader set statement_timeout = '30s';
grant usage on schema marts to open311_reader;
grant open311_reader to minqing_pipeline, open311;
alter role open311 set default_transaction_read_only = on;
alter role open311 set statement_timeout = '30s';

create table ops.open311_salt (
    salt       text        not null default md5(gen_random_uuid()::text || clock_timestamp()::text),
    created_at timestamptz not null default now(),
    single     boolean     primary key default true check (single)
);
insert into ops.open311_salt default values;
