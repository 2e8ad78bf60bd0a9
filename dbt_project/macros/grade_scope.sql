{#- The complaints mart_complaint_grades rebuilds (issue 17: a daily cost flat in history).

    A complaint's grade reads its own row of fct_complaints, whether it was returned by the as-of moment,
    the report before it of the same address and category (repeat_address), and the base grade of its
    community × category in its period (mart_sentiment_code). It can differ from the last build only when
      (a) fct_complaints deleted or inserted its row since (a new version, a label, an open complaint,
          which fct_complaints rebuilds every run): its triggers note the complaint in
          ops.complaint_day_changes (migrations 0014, 0016);
      (b) such a row (old or new) is of its address and category and came in before it, within the
          repeat window: the report before it may be another one now (looked for among complaints
          received before the last build's moment: the later ones are graded by (c));
      (c) the as-of moment reached it (received since the last build's moment) or a return of it;
      (d) its base grade or its reasons changed: ops.complaint_grade_bases keeps the base grades the last
          build used. Only its base changed (its row and those of its address are as they were), so its
          flags are as they were: the pre-hook moves its row out whole into a temporary table
          (grades_rebased), and the build grades it again from there, without reading fct_complaints.
    The pre-hook writes the complaints of (a)-(c) into ops.complaint_grade_scope with their repeat flags and
    deletes their rows, the build grades them again, the post-hook records the base grades and the change
    read (ops.aggregate_watermarks, as the daily aggregates do: macros/daily_scope.sql). A week's base grades
    change every day (the reasons count the week's complaints), so (d) is most of a day's rows: at 1,000,000
    complaints of history 380,000 of the 440,000 graded. Everything is rebuilt when the table is new, when
    fct_complaints was built whole since, when the as-of moment went back, or when the settings the grades
    read changed (macros/incremental.sql). The result equals a full rebuild (tests/e2e/test_daily_scope.py).
-#}

{#- SQL (a window expression over fct_complaints rows `alias`): whether the report just before it of the
    same address and category came in within the repeat window (`window`, an interval) — which holds
    exactly when any earlier one did. An address known only to its community (':?') repeats nothing. -#}
{% macro repeat_address_flag(alias, window) -%}
    coalesce({{ alias }}.address_key not like '%:?'
             and lag({{ alias }}.received_at) over (
                     partition by {{ alias }}.address_key, {{ alias }}.category_code
                     order by {{ alias }}.received_at, {{ alias }}.complaint_id)
                 >= {{ alias }}.received_at - {{ window }}, false)
{%- endmacro %}

{#- True when this build grades every complaint: a new table, changed settings, a rebuilt or rewound
    fct_complaints (daily_scope_state), or more changed complaints since the last build than the vars
    grades_whole_above_share of fct_complaints' rows and grades_whole_above_rows (a backfill, a history
    loaded at once), where finding the scope complaint by complaint costs more than grading them all. -#}
{% macro grades_whole(seeds) -%}
    {%- if not is_incremental() or settings_changed(seeds) or lacks_contract_columns() -%}{{ return(true) }}{%- endif -%}
    {%- set state = daily_scope_state() -%}
    {%- if state['all'] -%}{{ return(true) }}{%- endif -%}
    {%- set rows = run_query("select greatest(reltuples, 0) from pg_class where oid = '" ~ ref('fct_complaints') ~ "'::regclass").columns[0].values()[0] -%}
    {%- set changed = state['newest'] - state['through'] -%}
    {{ return((changed | float) > (var('grades_whole_above_rows') | float)
              and (changed | float) > (rows | float) * (var('grades_whole_above_share') | float)) }}
{%- endmacro %}

{#- SQL: the base grades of complaints now, one row per period × street × community × category. -#}
{% macro _grade_bases() -%}
    select period_start, street_id, community_id, category_code, grade, reasons
    from {{ ref('mart_sentiment_code') }}
    where grade_level = 'community_category'
      and period_grain = (select min(period_grain) from {{ ref('sentiment_thresholds') }} where grade_level = 'complaint')
{%- endmacro %}

{% macro prepare_grade_scope(seeds) -%}
    delete from {{ source('ops', 'complaint_grade_scope') }};
    {%- if grades_whole(seeds) %}
    {%- if is_incremental() %}
    delete from {{ this }};
    {%- endif %}
    {%- else %}
    {%- set state = daily_scope_state() %}
    {%- set since = state['since'] %}
    {%- set thresholds = ref('sentiment_thresholds') %}
    {%- set window = "(select value from " ~ thresholds ~ " where grade_level = 'complaint' and component = 'repeat_window_days' and rule = 'parameter') * interval '1 day'" %}
    insert into {{ source('ops', 'complaint_grade_scope') }} (complaint_id)
    with changes as (
        select complaint_id, received_at, address_key, category_code
        from {{ source('ops', 'complaint_day_changes') }}
        where change_id > {{ state['through'] }} and change_id <= {{ state['newest'] }}
    )
    select complaint_id from changes where complaint_id is not null
    union
    select later.complaint_id
    from (select distinct address_key, category_code, received_at from changes
          where address_key not like '%:?' and received_at < {{ since }}) as changed
    cross join lateral (  {#- per change, through the index on (address_key, category_code, received_at): a join
                             sorted and merged every complaint (79M comparisons at 1M, the most of the hook) -#}
        select later.complaint_id
        from {{ ref('fct_complaints') }} as later
        where later.address_key = changed.address_key and later.category_code = changed.category_code
          and later.received_at > changed.received_at and later.received_at <= changed.received_at + {{ window }}
          and later.received_at < {{ since }}  {# those received since are graded anyway (below) #}
        offset 0  {#- kept a nested loop: pulled up, the planner joins the whole table again -#}
    ) as later
    union
    select complaint_id from {{ ref('fct_complaints') }}
    where received_date >= {{ bj_date(since) }} and received_at >= {{ since }} and received_at < {{ as_of() }}
    union
    select complaint_id from {{ ref('fct_complaint_status_events') }}
    where event_type = 'returned' and event_at >= {{ since }} and event_at < {{ as_of() }};
    analyze {{ source('ops', 'complaint_grade_scope') }};
    {#- a complaint graded again only for its base grade: its row moves out whole into a temporary table,
        from which the build grades it again — its flags are as they were (its row of fct_complaints and
        those of its address did not change), only the base differs -#}
    drop table if exists {{ grades_rebased() }};
    create temporary table {{ grades_rebased() }} (like {{ this }});
    with bases_changed as (
        select period_start, street_id, community_id, category_code
        from ({{ _grade_bases() }}) as now_bases
        full join {{ source('ops', 'complaint_grade_bases') }} as built using (period_start, street_id, community_id, category_code)
        where now_bases.grade is distinct from built.grade or now_bases.reasons is distinct from built.reasons
    ),
    moved as (
        delete from {{ this }} as graded
        using bases_changed
        where graded.base_period_start = bases_changed.period_start
          and graded.street_id = bases_changed.street_id
          and graded.community_id = bases_changed.community_id
          and graded.category_code = bases_changed.category_code
          and not exists (select from {{ source('ops', 'complaint_grade_scope') }} as scope
                          where scope.complaint_id = graded.complaint_id)
        returning graded.*
    )
    insert into {{ grades_rebased() }} select * from moved;
    analyze {{ grades_rebased() }};
    {#- the repeat flags of the others: whether an earlier report of the same address and category came in
        within the window (the report just before it did, exactly then), one index probe each -#}
    update {{ source('ops', 'complaint_grade_scope') }} as scope
    set is_repeat_address = coalesce(complaints.address_key not like '%:?' and exists (
            select from {{ ref('fct_complaints') }} as earlier
            where earlier.address_key = complaints.address_key and earlier.category_code = complaints.category_code
              and earlier.received_at >= complaints.received_at - {{ window }}
              and (earlier.received_at, earlier.complaint_id) < (complaints.received_at, complaints.complaint_id)), false)
    from {{ ref('fct_complaints') }} as complaints
    where complaints.complaint_id = scope.complaint_id;
    delete from {{ this }} where complaint_id in (select complaint_id from {{ source('ops', 'complaint_grade_scope') }});
    {%- endif %}
{%- endmacro %}

{#- The temporary table of the rows an incremental build grades again only for their base grade, moved out
    by the pre-hook (above); a whole build has none. -#}
{%- macro grades_rebased() -%}pg_temp.mart_complaint_grades__rebased{%- endmacro %}

{% macro remember_grade_scope() -%}
    delete from {{ source('ops', 'complaint_grade_scope') }};
    delete from {{ source('ops', 'complaint_grade_bases') }} as built
    where not exists (select from ({{ _grade_bases() }}) as now_bases
                      where (now_bases.period_start, now_bases.street_id, now_bases.community_id, now_bases.category_code)
                          = (built.period_start, built.street_id, built.community_id, built.category_code));
    insert into {{ source('ops', 'complaint_grade_bases') }} (period_start, street_id, community_id, category_code, grade, reasons)
    {{ _grade_bases() }}
    on conflict (period_start, street_id, community_id, category_code) do update
        set grade = excluded.grade, reasons = excluded.reasons
        where (complaint_grade_bases.grade, complaint_grade_bases.reasons)
            is distinct from (excluded.grade, excluded.reasons);
    {{ remember_daily_scope() }}
{%- endmacro %}
