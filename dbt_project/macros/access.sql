{#- Access to a published mart (migration 0004_roles_and_access.sql), applied by dbt after it
    (re)builds the table, inside the same transaction as the swap, so no reader ever sees the new
    table without its grants and policies:
      - bi_reader and street_center read every row, and open311_reader (the Open311 API, migration
        0020) every row of the marts whose meta says open311;
      - community_staff read the rows of their own community (row-level security on community_id,
        access.community_members) — only on tables that have a community_id; street-wide tables stay
        closed to them. Where a table also has a street_id, a row whose street_id is null is the district's
        repeat of a street's row (rpt_dispatch_briefing lists an item on its street's briefing and on the
        district's): they read the street's, so each of their items once;
      - street_staff (migration 0021) read the rows of their own street (row-level security on street_id,
        access.street_members) — only on tables that have a street_id; the others, which still sum a
        district's streets together, stay closed to them. A row whose street_id is null (the district's
        briefing in rpt_dispatch_briefing) is no street's: the policy never shows it to them.
    The table's owner (the pipeline) is not subject to the policies. -#}
{% macro publish_access() %}
    {%- if model.resource_type != 'model' or not (config.get('meta') or {}).get('published')
          or config.get('materialized') not in ('table', 'incremental') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- set readers = 'bi_reader, street_center' ~ (', open311_reader' if (config.get('meta') or {}).get('open311') else '') %}
    grant select on {{ this }} to {{ readers }};
    {%- if 'community_id' in columns or 'street_id' in columns %}
    alter table {{ this }} enable row level security;
    drop policy if exists readers_all_rows on {{ this }};
    create policy readers_all_rows on {{ this }} for select to {{ readers }} using (true);
    {%- endif %}
    {%- if 'community_id' in columns %}
    grant select on {{ this }} to community_staff;
    drop policy if exists community_own_rows on {{ this }};
    create policy community_own_rows on {{ this }} for select to community_staff
        using (community_id in (select m.community_id from access.community_members as m
                                where m.role_name = current_user){{ ' and street_id is not null' if 'street_id' in columns }});
    {%- endif %}
    {%- if 'street_id' in columns %}
    grant select on {{ this }} to street_staff;
    drop policy if exists street_own_rows on {{ this }};
    create policy street_own_rows on {{ this }} for select to street_staff
        using (street_id in (select m.street_id from access.street_members as m where m.role_name = current_user));
    {%- endif %}
{% endmacro %}
