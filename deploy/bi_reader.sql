-- bi_reader: the read-only login the BI tool (Metabase) uses to read the published marts.
--
-- Run by the airflow-init service of docker-compose.yml, after the warehouse migrations, as the
-- warehouse owner: the role the migrations and dbt run as, so the default privileges below cover
-- the tables dbt creates (and re-creates) in `marts`. Idempotent: it runs on every `docker compose up`.
--
-- The password is not in this file. The caller sets it for the session first:
--     select set_config('minqing.bi_reader_password', '<password>', false);
-- or, with psql:
--     PGOPTIONS='-c minqing.bi_reader_password=<password>' psql "$WAREHOUSE_URL" -f deploy/bi_reader.sql
-- Every run sets the password again, so changing BI_READER_PASSWORD in .env and re-running rotates it.
--
-- bi_reader reads the schema `marts` and nothing else: not raw (personal data in clear), not
-- staging, intermediate, reference or ops.

do $$
declare
    pw text := nullif(current_setting('minqing.bi_reader_password', true), '');
begin
    if pw is null then
        raise exception 'bi_reader.sql: set minqing.bi_reader_password for this session first';
    end if;
    if not exists (select from pg_catalog.pg_roles where rolname = 'bi_reader') then
        execute format('create role bi_reader with login password %L', pw);
    else
        execute format('alter role bi_reader with login password %L', pw);
    end if;
    execute format('grant connect on database %I to bi_reader', current_database());
end
$$;

-- Guards for a reporting login: sessions are read-only by default, and a runaway dashboard query
-- is cancelled instead of competing with the pipeline for the warehouse.
alter role bi_reader set default_transaction_read_only = on;
alter role bi_reader set statement_timeout = '5min';

-- dbt creates `marts` on its first run; creating it here (as the same owner) lets the grants exist
-- before the first run.
create schema if not exists marts;
grant usage on schema marts to bi_reader;
grant select on all tables in schema marts to bi_reader;
-- Tables created later in `marts` by this role (dbt rebuilds every mart table on each run):
alter default privileges in schema marts grant select on tables to bi_reader;
