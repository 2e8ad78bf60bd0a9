-- Access by street (issue 23): a street's complaint center, in a warehouse that serves a district's streets,
-- reads the rows of its own street only.
--
--   street_staff   NOLOGIN   the rows of its own street, through row-level security on every published
--                            table that has a street_id (macros/access.sql); published tables without one
--                            (they still sum the warehouse's streets together) stay closed to it.
--                            `minqing access street-user NAME --street ID` makes a login member and records
--                            its street in access.street_members.
-- street_center (every row) remains the district's, and a street's own install's.
do $$
begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'street_staff') then
        create role street_staff nologin;
    end if;
    execute format('grant connect on database %I to street_staff', current_database());
end
$$;

-- Which street each street login may read. Only the owner and the pipeline write it.
create table if not exists access.street_members (
    role_name  text primary key,
    street_id  text not null,
    granted_at timestamptz not null default now()
);

alter table access.street_members enable row level security;
drop policy if exists own_membership on access.street_members;
create policy own_membership on access.street_members for select to street_staff
    using (role_name = current_user);
grant usage on schema access to street_staff;
grant select on access.street_members to street_staff;
grant usage on schema marts to street_staff;
