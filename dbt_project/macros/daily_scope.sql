{#- The cells a daily aggregate of fct_complaints rebuilds (issue 17: a daily cost flat in history).

    A cell of fct_daily_complaint_counts or fct_daily_reports_by_key belongs to one Beijing day ×
    community × category. Its counts can differ from the last build only when
      (a) fct_complaints deleted or inserted one of its complaints since: a new version, a move to
          another day or community (the old cell is the deleted row's), a reclassification, a label,
          a complaint still open (fct_complaints rebuilds every open one each run, so its overdue
          flags follow the as-of moment), a setting changed (every row); the triggers of
          fct_complaints note these cells in ops.complaint_day_changes (migration 0014);
      (b) the as-of moment passed something in it: complaints received since the last build's moment
          (every cell of the days from it on), the contact deadline of a complaint not yet contacted
          (at most the longest response limit of seeds/time_limits.csv after dispatch or receipt);
      (c) one of its complaints was returned (退单) between the two moments.
    An incremental build writes those cells into ops.aggregate_scope and deletes them (pre-hook),
    builds them again, and keeps every other cell as it was: the result equals a full rebuild
    (tests/e2e/test_daily_scope.py). Everything is rebuilt when the table is new, when fct_complaints
    was built whole since (its post-hook notes the day '-infinity'), when the as-of moment went back, or
    when the table lacks a column its contract declares (built before it: street_id, issue 23).

    In a model:
        {{ config(materialized='incremental', incremental_strategy='append',
                  pre_hook="{{ prepare_daily_scope() }}", post_hook="{{ remember_daily_scope() }}") }}
        ... where {{ in_daily_scope('complaints') }}   -- a relation with received_date, community_id, category_code
-#}

{#- {'all': rebuild everything, 'since': the last build's as-of moment (SQL text), 'through': the last
    change read before, 'newest': the newest change now} -#}
{% macro daily_scope_state() -%}
    {%- if not execute -%}
        {{ return({'all': true, 'since': none, 'through': 0, 'newest': 0}) }}
    {%- endif -%}
    {%- set newest = run_query("select coalesce(max(change_id), 0) from " ~ source('ops', 'complaint_day_changes')).columns[0].values()[0] -%}
    {%- set state = run_query(
        "select as_of_at::text as since, coalesce(through_change_id, 0) as through, " ~ as_of() ~ " < as_of_at as went_back, "
        ~ "exists (select from " ~ source('ops', 'complaint_day_changes') ~ " where received_date = '-infinity' "
        ~ "and change_id > coalesce(through_change_id, 0)) as rebuilt_whole from " ~ source('ops', 'aggregate_watermarks')
        ~ " where relation = '" ~ this.schema ~ "." ~ this.identifier ~ "'"
    ).rows if is_incremental() else [] -%}
    {%- if not state or state[0]['went_back'] or state[0]['rebuilt_whole'] or lacks_contract_columns() -%}
        {{ return({'all': true, 'since': none, 'through': 0, 'newest': newest}) }}
    {%- endif -%}
    {{ return({'all': false, 'since': "'" ~ state[0]['since'] ~ "'::timestamptz", 'through': state[0]['through'],
               'newest': newest}) }}
{%- endmacro %}

{%- macro _daily_relation() -%}'{{ this.schema }}.{{ this.identifier }}'{%- endmacro %}

{#- SQL: true for a row of `relation` in a cell the build rebuilds. -#}
{% macro in_daily_scope(relation) -%}
    {%- if daily_scope_state()['all'] -%}
        true
    {%- else -%}
        {#- two lookups, each through its own index (migration 0023): a day rebuilt whole, or the row's cell (the
            aggregates' community and category are never null) -#}
        (exists (select from {{ source('ops', 'aggregate_scope') }} as scope
                 where scope.relation = {{ _daily_relation() }} and scope.received_date = {{ relation }}.received_date
                   and scope.whole_day)
         or exists (select from {{ source('ops', 'aggregate_scope') }} as scope
                    where scope.relation = {{ _daily_relation() }} and scope.received_date = {{ relation }}.received_date
                      and scope.community_id = {{ relation }}.community_id
                      and scope.category_code = {{ relation }}.category_code))
    {%- endif -%}
{%- endmacro %}

{% macro prepare_daily_scope() -%}
    {%- set state = daily_scope_state() -%}
    delete from {{ source('ops', 'aggregate_scope') }} where relation = {{ _daily_relation() }};
    {%- if is_incremental() and state['all'] %}
    delete from {{ this }};
    {%- elif is_incremental() %}
    {%- set since = state['since'] %}
    {%- set limit = "(select max(response_limit_hours) from " ~ ref('time_limits') ~ ") * interval '1 hour'" %}
    insert into {{ source('ops', 'aggregate_scope') }} (relation, received_date, whole_day, community_id, category_code)
    select distinct {{ _daily_relation() }}, received_date, whole_day, community_id, category_code
    from (
        select received_date, false as whole_day, community_id, category_code
        from {{ source('ops', 'complaint_day_changes') }}
        where change_id > {{ state['through'] }} and change_id <= {{ state['newest'] }}
        union all
        select day::date, true, null, null
        from generate_series({{ bj_date(since) }}, {{ bj_date(as_of()) }}, interval '1 day') as day
        union all
        select received_date, false, community_id, category_code
        from {{ ref('fct_complaints') }}
        where responded_at is null
          and (dispatched_at >= {{ since }} - {{ limit }} or received_date >= {{ bj_date(since ~ ' - ' ~ limit) }})
        union all
        select complaints.received_date, false, complaints.community_id, complaints.category_code
        from {{ ref('fct_complaint_status_events') }} as events
        join {{ ref('fct_complaints') }} as complaints using (complaint_id)
        where events.event_type = 'returned' and events.event_at >= {{ since }} and events.event_at < {{ as_of() }}
    ) as cells;
    delete from {{ this }} as cells where {{ in_daily_scope('cells') }};
    {%- endif %}
{%- endmacro %}

{% macro remember_daily_scope() -%}
    {%- set state = daily_scope_state() -%}
    delete from {{ source('ops', 'aggregate_scope') }} where relation = {{ _daily_relation() }};
    insert into {{ source('ops', 'aggregate_watermarks') }} (relation, as_of_at, through_change_id, recorded_at)
    values ({{ _daily_relation() }}, {{ as_of() }}, {{ state['newest'] }}, now())
    on conflict (relation) do update
        set as_of_at = excluded.as_of_at, through_change_id = excluded.through_change_id,
            recorded_at = excluded.recorded_at
{%- endmacro %}

{#- fct_complaints' post-hook: the triggers that note the cells of the rows it deletes and inserts, and,
    after a build of the whole table, the day '-infinity' (everything changed). -#}
{% macro note_complaint_days() -%}
    {%- for name, event, rows in [('gone', 'delete', 'old'), ('added', 'insert', 'new'),
                                  ('updated_from', 'update', 'old'), ('updated_to', 'update', 'new')] %}
    create or replace trigger note_days_{{ name }} after {{ event }} on {{ this }}
        referencing {{ rows }} table as changed for each statement execute function ops.note_complaint_days();
    {%- endfor %}
    {%- if not is_incremental() %}
    insert into {{ source('ops', 'complaint_day_changes') }} (received_date) values ('-infinity');
    {%- endif %}
{%- endmacro %}

{#- The months a monthly table of fct_complaints recomputes whole (fct_monthly_handling_hours): those of
    the rows fct_complaints deleted or inserted since its last build, and those from the last build's
    as-of moment to this one's. SQL: one column, month_start. -#}
{% macro month_scope() -%}
    {%- set state = daily_scope_state() -%}
    select date_trunc('month', received_date)::date as month_start
    from {{ source('ops', 'complaint_day_changes') }}
    where change_id > {{ state['through'] }} and change_id <= {{ state['newest'] }} and received_date > '-infinity'
    union
    select month::date
    from generate_series(date_trunc('month', ({{ bj_date(state['since']) }})::timestamp),
                         ({{ bj_date(as_of()) }})::timestamp, interval '1 month') as month
{%- endmacro %}

{% macro prepare_month_scope() -%}
    {%- set state = daily_scope_state() -%}
    {%- if is_incremental() and state['all'] %}
    delete from {{ this }};
    {%- elif is_incremental() %}
    delete from {{ this }} where month_start in ({{ month_scope() }});
    {%- endif %}
{%- endmacro %}

