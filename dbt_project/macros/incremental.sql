{#- Incremental models that stay right when their settings change.

    An incremental model keeps rows built under the seeds and vars of earlier runs. When those change
    (an alias added to reference/community_aliases.csv, a time limit in seeds/issue_categories.csv, a new
    status mapping, a rotated hashing key), the kept rows are stale and a daily build would never
    touch most of them. The same holds when a person releases a held file (quality/held.py): its
    rows are older than the watermarks, so the newest release is part of the fingerprint too. So each such model records the fingerprint of its settings after every build
    (ops.incremental_settings) and, before an incremental build, empties itself when the fingerprint
    differs: that build then selects everything, as a full refresh would.

    In a model:
        {{ config(materialized='incremental', ...,
                  pre_hook="{{ reset_when_settings_change(['status_codes'], ['rating_resolved_min']) }}",
                  post_hook="{{ remember_settings(['status_codes'], ['rating_resolved_min']) }}") }}
    and its incremental filter reads a watermark of {{ this }} that an empty table turns into "all". -#}

{#- md5 over the contents of the given seeds, the values of the given vars, the hashing key's
    fingerprint and the time of the newest release of a held file (a scalar SQL expression). -#}
{% macro settings_fingerprint(seeds, vars=[]) -%}
    {%- set values = [] -%}
    {%- for name in vars -%}{%- do values.append(var(name, none)) -%}{%- endfor -%}
    md5(concat_ws('|'
    {%- for seed in seeds %},
        (select md5(coalesce(string_agg(s::text, ',' order by s::text), '')) from {{ ref(seed) }} as s)
    {%- endfor %},
        (select coalesce(max(fingerprint), '') from {{ source('ops', 'hash_key') }}),
        (select coalesce(max(decided_at)::text, '') from {{ source('ops', 'file_decisions') }} where decision = 'released'),
        {{ dbt.string_literal(tojson(values)) }}
    ))
{%- endmacro %}

{#- True (SQL) when the fingerprint recorded for {{ this }} is not that of the settings now. -#}
{% macro settings_differ(seeds, vars=[]) -%}
    (select fingerprint from {{ source('ops', 'incremental_settings') }}
     where relation = '{{ this.schema }}.{{ this.identifier }}')
    is distinct from {{ settings_fingerprint(seeds, vars) }}
{%- endmacro %}

{% macro reset_when_settings_change(seeds, vars=[]) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ settings_differ(seeds, vars) }}
    {%- endif -%}
{%- endmacro %}

{% macro remember_settings(seeds, vars=[]) -%}
    insert into {{ source('ops', 'incremental_settings') }} (relation, fingerprint, recorded_at)
    values ('{{ this.schema }}.{{ this.identifier }}', {{ settings_fingerprint(seeds, vars) }}, now())
    on conflict (relation) do update set fingerprint = excluded.fingerprint, recorded_at = excluded.recorded_at
{%- endmacro %}

{#- fct_complaints: a record whose newest version is no longer a resident demand (a mini-program
    ticket turned into a bill payment) leaves the table; the build's delete+insert would keep it. -#}
{% macro drop_no_longer_demands() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where complaint_id in (select complaint_id from {{ ref('int_complaints__latest') }} where not is_resident_demand)
    {%- endif -%}
{%- endmacro %}

{#- The largest value of a column of {{ this }} as a SQL literal, read when the model runs (a
    literal, not a subquery, so that the planner estimates how few rows lie beyond it and uses the
    indexes); `default` (SQL) when the table is empty. -#}
{% macro watermark(column, default) -%}
    {%- if execute and is_incremental() -%}
        {%- set value = run_query("select max(" ~ column ~ ")::text from " ~ this).columns[0].values()[0] -%}
        {{- default if value is none else dbt.string_literal(value) -}}
    {%- else -%}
        {{- default -}}
    {%- endif -%}
{%- endmacro %}

{#- A model whose rows do not tell how far it has read (fct_complaint_status_events keeps each event
    from the first file that had it, so a file that brought no new event leaves no trace) records the
    newest file of `relation` it has read in ops.file_watermarks, under 'dbt:<schema>.<table>'.
    file_watermark(fallback) is that file as a SQL literal, read when the model runs; `fallback` (SQL)
    when none is recorded (a table built before the record existed). -#}
{% macro file_watermark(fallback) -%}
    {%- if execute and is_incremental() -%}
        {%- set value = run_query("select max_file_id::text from " ~ source('ops', 'file_watermarks')
                                  ~ " where name = 'dbt:" ~ this.schema ~ "." ~ this.identifier ~ "'").columns[0].values() -%}
        {{- fallback if not value or value[0] is none else value[0] -}}
    {%- else -%}
        {{- fallback -}}
    {%- endif -%}
{%- endmacro %}

{% macro remember_file_watermark(relation) -%}
    insert into {{ source('ops', 'file_watermarks') }} (name, max_file_id, recorded_at)
    select 'dbt:{{ this.schema }}.{{ this.identifier }}', coalesce(max(file_id), 0), now() from {{ relation }}
    on conflict (name) do update set max_file_id = excluded.max_file_id, recorded_at = excluded.recorded_at
{%- endmacro %}

{#- True when the model runs incrementally but its settings changed since its last build: the
    pre-hook empties it, and the model must select everything (it is compiled before the hook runs,
    so it asks here rather than reading its own watermark). -#}
{% macro settings_changed(seeds, vars=[]) -%}
    {%- if not (execute and is_incremental()) -%}{{ return(false) }}{%- endif -%}
    {{ return(run_query("select " ~ settings_differ(seeds, vars)).columns[0].values()[0]) }}
{%- endmacro %}

{#- True when {{ this }} exists but lacks one of the given columns: it was built by an older version of
    the model, before those columns existed (on_schema_change adds them empty). A model whose
    incremental filter reads such a column (a watermark) then selects everything instead, so that the
    build fills the new columns of every row, as a full refresh would. -#}
{% macro lacks_columns(names) -%}
    {%- if not (execute and is_incremental()) -%}{{ return(false) }}{%- endif -%}
    {%- set present = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return(names | reject('in', present) | list | length > 0) }}
{%- endmacro %}

{#- True when {{ this }} exists but lacks a column its contract declares: an incremental table built by an
    older version of the model (issue 23 gave the marts street_id). on_schema_change adds such a column empty
    on the rows the build keeps, and ensure_not_null then refuses them; so such a model builds every row once,
    as a full refresh would: its incremental filter selects everything, and an append or insert_new model is
    emptied first (reset_when_lacking_columns). -#}
{% macro lacks_contract_columns() -%}
    {{ return(lacks_columns(model.columns.keys() | list)) }}
{%- endmacro %}

{% macro reset_when_lacking_columns() -%}
    {%- if lacks_contract_columns() -%}
    delete from {{ this }}
    {%- endif -%}
{%- endmacro %}

{#- A temporary table of `select_sql`, analysed, named `name` (returned): an incremental build's scope
    read from it rather than from a CTE, so that the planner knows how many rows the build touches. A
    watermark's estimate can be off by the whole table (the 10M run of issue 17: fct_complaints took
    its day's 60,000 complaints for 9.2M and categorised every one). Created while the model compiles,
    on the connection that then runs it. -#}
{% macro analysed_temp_table(name, select_sql) -%}
    {%- if execute -%}
        {%- do run_query("drop table if exists pg_temp." ~ name ~ "; create temporary table " ~ name
                         ~ " as " ~ select_sql ~ "; analyze " ~ name) -%}
    {%- endif -%}
    {{- name -}}
{%- endmacro %}

{#- A primary key on `column` of {{ this }} when it has none: contracted models declare it (a new table
    gets it when created), but an incremental table created before the key was declared keeps its old
    shape. Checked with the catalogue; added once (a table with a duplicate fails here, as it should). -#}
{% macro ensure_primary_key(column) -%}
    do $ensure$ begin
        if not exists (select 1 from pg_constraint where contype = 'p'
                       and conrelid = to_regclass('{{ this.schema }}.{{ this.identifier }}')) then
            alter table {{ this }} add primary key ({{ column }});
        end if;
    end $ensure$
{%- endmacro %}

{#- An index on `columns` of {{ this }} (partial when `where` is given), created when the table has none on
    exactly those columns: for indexes an incremental table gained after it was first built (the `indexes`
    config makes them only when the table is created). Unnamed, so that Postgres names it: a fixed name
    with `if not exists` is a no-op on a full refresh, whose post-hooks run while the table it replaces
    still holds that name, and the new table was left without the index once the old one was dropped. -#}
{% macro ensure_index(columns, where=none) -%}
    do $ensure$ begin
        if not exists (
            select 1
            from pg_index as i
            where i.indrelid = to_regclass('{{ this.schema }}.{{ this.identifier }}')
              and (i.indpred is not null) = {{ 'false' if where is none else 'true' }}
              and (select array_agg(a.attname::text order by k.ord)
                   from unnest(i.indkey::int2[]) with ordinality as k (attnum, ord)
                   join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = k.attnum)
                  = array[{% for c in columns %}'{{ c }}'{{ ", " if not loop.last }}{% endfor %}]
        ) then
            create index on {{ this }} ({{ columns | join(', ') }}){% if where is not none %} where {{ where }}{% endif %};
        end if;
    end $ensure$
{%- endmacro %}

{#- The incremental strategy 'insert_new': the build's rows whose key the table does not hold yet, the others
    left as they are (`on conflict do nothing`, on the table's primary key). For a table whose rows, once
    written, never change while the settings are the same (fct_complaint_status_events: an event keeps the
    first file that had it; a change of settings empties the table first): delete+insert deleted and wrote
    again every event of each record a file touched (54M rows for the 10M bench's history). -#}
{% macro get_incremental_insert_new_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
    on conflict ({{ arg_dict['unique_key'] }}) do nothing
{%- endmacro %}

{#- NOT NULL on the columns a contract declares not_null, for an incremental table created before its
    contract declared them (a contract's constraints are made only when the table is created, as with
    ensure_primary_key). Checked in the catalogue; each column is altered once, the first build after the
    declaration (a column holding a null fails here, as the build of a new table would). A mart-wide
    post-hook (dbt_project.yml): nothing for tables, which are created anew by every build. -#}
{% macro ensure_not_null() -%}
    {%- if model.config.materialized == 'incremental' and (model.config.contract or {}).enforced -%}
    {%- set columns = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}{%- do columns.append(name) -%}{%- endif -%}
    {%- endfor -%}
    {%- if columns -%}
    do $ensure$ declare missing text; begin
        select string_agg(format('alter column %I set not null', a.attname), ', ') into missing
          from pg_attribute as a
         where a.attrelid = to_regclass('{{ this.schema }}.{{ this.identifier }}') and not a.attnotnull
           and a.attname = any (array[{% for c in columns %}'{{ c }}'{{ ", " if not loop.last }}{% endfor %}]);
        if missing is not null then
            execute format('alter table %s %s', '{{ this }}', missing);
        end if;
    end $ensure$
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- fct_complaint_status_events' pre-hook: its kept events follow their complaint to another street (issue 23:
    street_id is the complaint's, and insert_new never rewrites a kept event). Only the complaints fct_complaints
    built since the events' last build (its newest built_at, read before this build inserts) can have moved; in a
    table built before street_id there is nothing to follow (reset_when_lacking_columns empties it). -#}
{% macro follow_complaint_streets() -%}
    {%- if is_incremental() and not lacks_contract_columns() -%}
    update {{ this }} as events set street_id = complaints.street_id
    from {{ ref('fct_complaints') }} as complaints
    where complaints.complaint_id = events.complaint_id
      and complaints.built_at >= {{ watermark('built_at', "'-infinity'") }}::timestamptz
      and events.street_id is distinct from complaints.street_id
    {%- endif -%}
{%- endmacro %}
