-- 0004: who may read and write what (issue 6).
--
-- Roles are cluster-wide: several warehouses (databases) may share one server, so each role is
-- created only when missing, and every grant below is per database. No password is set here:
-- `minqing access password ROLE --password-env VAR` sets one from the environment (and rotates it).
--
--   minqing_pipeline  LOGIN   the pipeline (ingestion, dbt, GX, forecast): reads and writes every
--                             project schema. Not a superuser, cannot create roles or databases.
--   bi_reader         LOGIN   BI tools (Metabase, Superset, Excel over ODBC): SELECT on the published
--                             marts and nothing else (no raw, staging, intermediate, reference, ops
--                             or meta), read-only sessions, a statement timeout.
--   street_center     NOLOGIN the street complaint center (街道诉求中心): every row of the marts.
--                             Login roles are made members by `minqing access street-user NAME`.
--   community_staff   NOLOGIN community staff and property companies: the rows of their own
--                             community only, through row-level security on every published table
--                             that has a community_id. `minqing access community-user NAME --community ID`
--                             makes a login member and records its community in access.community_members.
--
-- The grants and policies on the mart tables are applied by dbt each time it (re)builds a table
-- (macro publish_access, a post-hook inside the same transaction as the table swap), because a
-- rebuilt table starts with no grants and no policies.

do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'minqing_pipeline') then
        create role minqing_pipeline login nosuperuser nocreaterole nocreatedb;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = 'bi_reader') then
        create role bi_reader login nosuperuser nocreaterole nocreatedb;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = 'street_center') then
        create role street_center nologin;
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = 'community_staff') then
        create role community_staff nologin;
    end if;
    execute format('grant connect on database %I to minqing_pipeline, bi_reader, street_center, community_staff',
                   current_database());
    execute format('grant create on database %I to minqing_pipeline', current_database());
end
$$;

alter role bi_reader set default_transaction_read_only = on;
alter role bi_reader set statement_timeout = '5min';

-- The schemas dbt writes exist before its first run, so that the grants exist too.
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists marts;
create schema if not exists reference;
create schema if not exists access;

-- Which community each community login may read. Only the owner and the pipeline write it.
create table access.community_members (
    role_name    text primary key,
    community_id text not null,
    granted_at   timestamptz not null default now()
);

-- Community staff may read their own membership row (the policies of the marts look it up as the
-- querying login); nobody but the owner and the pipeline sees anyone else's.
alter table access.community_members enable row level security;
create policy own_membership on access.community_members for select to community_staff
    using (role_name = current_user);
grant usage on schema access to community_staff;
grant select on access.community_members to community_staff;

-- The pipeline reads and writes every project schema, now and later.
do $$
declare
    s text;
begin
    foreach s in array array['raw', 'ops', 'staging', 'intermediate', 'marts', 'reference', 'access'] loop
        execute format('grant usage, create on schema %I to minqing_pipeline', s);
        execute format('grant select, insert, update, delete, truncate, references on all tables in schema %I to minqing_pipeline', s);
        execute format('grant usage, select, update on all sequences in schema %I to minqing_pipeline', s);
        execute format('alter default privileges in schema %I grant select, insert, update, delete, truncate, references on tables to minqing_pipeline', s);
        execute format('alter default privileges in schema %I grant usage, select, update on sequences to minqing_pipeline', s);
    end loop;
end
$$;
grant usage on schema meta to minqing_pipeline;
grant select on all tables in schema meta to minqing_pipeline;

-- Readers see the schema of the published marts; which tables and rows, dbt's publish_access decides.
grant usage on schema marts to bi_reader, street_center, community_staff;
