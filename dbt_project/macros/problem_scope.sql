{#- The problems a problem mart rebuilds (issues 17 and 19: a daily cost flat in history).

    fct_problem_reports, fct_problems and fct_complaint_links hold rows per problem: a report's number and
    repeat flag, a problem's counts and state, the links of its reports. A problem's rows can differ from
    the last build only when
      (a) the link stage changed its memberships since: a report joined it, left it, or moved between two
          problems (a merge, a split); the triggers of ops.problem_members note the problems, old and new,
          in ops.problem_changes (migration 0018);
      (b) fct_complaints rewrote one of its reports since (a new version, a closed order, a label): noted
          in ops.complaint_day_changes (migrations 0014, 0016), read through the report's membership.
    An incremental build writes those problems into ops.problem_scope, deletes their rows (pre-hook),
    builds them again and keeps every other problem as it was: the result equals a full rebuild
    (tests/e2e/test_daily_scope.py). Everything is rebuilt when the table is new, when fct_complaints was
    built whole since, when the memberships were emptied (`minqing link --rebuild`), or when the table lacks a
    column its contract declares (built before it: street_id, issue 23).

    In a model:
        {{ config(materialized='incremental', incremental_strategy='append',
                  pre_hook="{{ prepare_problem_scope() }}", post_hook="{{ remember_problem_scope() }}") }}
        ... where {{ in_problem_scope('reports.problem_id') }}
-#}

{%- macro _problem_relation() -%}'{{ this.schema }}.{{ this.identifier }}'{%- endmacro %}

{#- {'all': rebuild every problem, 'through'/'newest': the last complaint change read and the newest,
    'through_problems'/'newest_problems': the same of the problem changes} -#}
{% macro problem_scope_state() -%}
    {%- if not execute -%}
        {{ return({'all': true, 'through': 0, 'newest': 0, 'through_problems': 0, 'newest_problems': 0}) }}
    {%- endif -%}
    {%- set newest = run_query(
        "select (select coalesce(max(change_id), 0) from " ~ source('ops', 'complaint_day_changes') ~ "), "
        ~ "(select coalesce(max(change_id), 0) from " ~ source('ops', 'problem_changes') ~ ")").rows[0] -%}
    {%- set state = run_query(
        "select through_change_id as through, through_problem_change_id as through_problems, "
        ~ "exists (select from " ~ source('ops', 'complaint_day_changes') ~ " where received_date = '-infinity' "
        ~ "and change_id > through_change_id) "
        ~ "or exists (select from " ~ source('ops', 'problem_changes') ~ " where problem_id is null "
        ~ "and change_id > through_problem_change_id) as rebuilt_whole from " ~ source('ops', 'aggregate_watermarks')
        ~ " where relation = " ~ _problem_relation()
        ~ " and through_change_id is not null and through_problem_change_id is not null"
    ).rows if is_incremental() else [] -%}
    {%- set whole = not state or state[0]['rebuilt_whole'] or lacks_contract_columns() -%}
    {{ return({'all': whole, 'through': 0 if whole else state[0]['through'], 'newest': newest[0],
               'through_problems': 0 if whole else state[0]['through_problems'], 'newest_problems': newest[1]}) }}
{%- endmacro %}

{#- SQL: true for a row of a problem the build rebuilds. -#}
{% macro in_problem_scope(problem_id_expression) -%}
    {%- if problem_scope_state()['all'] -%}
        true
    {%- else -%}
        {{ problem_id_expression }} in (select problem_id from {{ source('ops', 'problem_scope') }}
                                        where relation = {{ _problem_relation() }})
    {%- endif -%}
{%- endmacro %}

{% macro prepare_problem_scope() -%}
    {%- set state = problem_scope_state() -%}
    delete from {{ source('ops', 'problem_scope') }} where relation = {{ _problem_relation() }};
    {%- if is_incremental() and state['all'] %}
    delete from {{ this }};
    {%- elif is_incremental() %}
    insert into {{ source('ops', 'problem_scope') }} (relation, problem_id)
    select {{ _problem_relation() }}, problem_id
    from {{ source('ops', 'problem_changes') }}
    where change_id > {{ state['through_problems'] }} and change_id <= {{ state['newest_problems'] }}
      and problem_id is not null
    union
    select {{ _problem_relation() }}, members.problem_id
    from {{ source('ops', 'complaint_day_changes') }} as changes
    join {{ ref('stg_linking__problem_members') }} as members using (complaint_id)
    where changes.change_id > {{ state['through'] }} and changes.change_id <= {{ state['newest'] }};
    analyze {{ source('ops', 'problem_scope') }};
    delete from {{ this }}
    where problem_id in (select problem_id from {{ source('ops', 'problem_scope') }}
                         where relation = {{ _problem_relation() }});
    {%- endif %}
{%- endmacro %}

{% macro remember_problem_scope() -%}
    {%- set state = problem_scope_state() -%}
    delete from {{ source('ops', 'problem_scope') }} where relation = {{ _problem_relation() }};
    insert into {{ source('ops', 'aggregate_watermarks') }}
        (relation, as_of_at, through_change_id, through_problem_change_id, recorded_at)
    values ({{ _problem_relation() }}, {{ as_of() }}, {{ state['newest'] }}, {{ state['newest_problems'] }}, now())
    on conflict (relation) do update
        set as_of_at = excluded.as_of_at, through_change_id = excluded.through_change_id,
            through_problem_change_id = excluded.through_problem_change_id, recorded_at = excluded.recorded_at
{%- endmacro %}
