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
          build used. Only its base changed (its row and those of its address are as they were), so it
          keeps its repeat flag. The pre-hook finds the repeat flags of the complaints of (a)-(c) and
          writes every flag into the scope table, which the build reads.
    The pre-hook writes those complaints into ops.complaint_grade_scope and deletes their rows, the build
    grades them again, the post-hook records the base grades and the change read (ops.aggregate_watermarks,
    as the daily aggregates do: macros/daily_scope.sql). Everything is rebuilt when the table is new, when
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
    {%- if not is_incremental() or settings_changed(seeds) -%}{{ return(true) }}{%- endif -%}
    {%- set state = daily_scope_state() -%}
    {%- if state['all'] -%}{{ return(true) }}{%- endif -%}
    {%- set rows = run_query("select greatest(reltuples, 0) from pg_class where oid = '" ~ ref('fct_complaints') ~ "'::regclass").columns[0].values()[0] -%}
    {%- set changed = state['newest'] - state['through'] -%}
    {{ return((changed | float) > (var('grades_whole_above_rows') | float)
              and (changed | float) > (rows | float) * (var('grades_whole_above_share') | float)) }}
{%- endmacro %}

{#- SQL: the base grades of complaints now, one row per period × community × category. -#}
{% macro _grade_bases() -%}
    select period_start, community_id, category_code, grade, reasons
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
    from changes
    join {{ ref('fct_complaints') }} as later
        on later.address_key = changes.address_key and later.category_code = changes.category_code
        and later.received_at > changes.received_at and later.received_at <= changes.received_at + {{ window }}
        and later.received_at < {{ since }}  {# those received since are graded anyway (below) #}
    where changes.address_key not like '%:?'
    union
    select complaint_id from {{ ref('fct_complaints') }}
    where received_date >= {{ bj_date(since) }} and received_at >= {{ since }} and received_at < {{ as_of() }}
    union
    select complaint_id from {{ ref('fct_complaint_status_events') }}
    where event_type = 'returned' and event_at >= {{ since }} and event_at < {{ as_of() }};
    {#- a complaint graded again only for its base grade keeps its repeat flag -#}
    insert into {{ source('ops', 'complaint_grade_scope') }} (complaint_id, is_repeat_address)
    select graded.complaint_id, graded.is_repeat_address
    from (
        select period_start, community_id, category_code
        from ({{ _grade_bases() }}) as now_bases
        full join {{ source('ops', 'complaint_grade_bases') }} as built using (period_start, community_id, category_code)
        where now_bases.grade is distinct from built.grade or now_bases.reasons is distinct from built.reasons
    ) as bases_changed
    join {{ this }} as graded
        on graded.community_id = bases_changed.community_id
        and graded.category_code = bases_changed.category_code
        and graded.base_period_start = bases_changed.period_start
    on conflict (complaint_id) do nothing;
    {#- the others' repeat flags: the report before each is looked for among the complaints of its address
        and category from the repeat window before the first of them graded (statistics first: the planner
        must know how many) -#}
    analyze {{ source('ops', 'complaint_grade_scope') }};
    with searched as (
        select complaints.address_key, complaints.category_code, min(complaints.received_at) - {{ window }} as from_at
        from {{ source('ops', 'complaint_grade_scope') }} as scope
        join {{ ref('fct_complaints') }} as complaints using (complaint_id)
        where scope.is_repeat_address is null
        group by complaints.address_key, complaints.category_code
    ),
    flags as (
        select complaint_id, {{ repeat_address_flag('complaints', window) }} as is_repeat_address
        from {{ ref('fct_complaints') }} as complaints
        join searched using (address_key, category_code)
        where complaints.received_at >= searched.from_at and complaints.received_at < {{ as_of() }}
    )
    update {{ source('ops', 'complaint_grade_scope') }} as scope
    set is_repeat_address = coalesce(flags.is_repeat_address, false)
    from {{ source('ops', 'complaint_grade_scope') }} as todo
    left join flags using (complaint_id)
    where scope.complaint_id = todo.complaint_id and todo.is_repeat_address is null;
    delete from {{ this }} where complaint_id in (select complaint_id from {{ source('ops', 'complaint_grade_scope') }});
    {%- endif %}
{%- endmacro %}

{% macro remember_grade_scope() -%}
    delete from {{ source('ops', 'complaint_grade_scope') }};
    delete from {{ source('ops', 'complaint_grade_bases') }} as built
    where not exists (select from ({{ _grade_bases() }}) as now_bases
                      where (now_bases.period_start, now_bases.community_id, now_bases.category_code)
                          = (built.period_start, built.community_id, built.category_code));
    insert into {{ source('ops', 'complaint_grade_bases') }} (period_start, community_id, category_code, grade, reasons)
    {{ _grade_bases() }}
    on conflict (period_start, community_id, category_code) do update
        set grade = excluded.grade, reasons = excluded.reasons
        where (complaint_grade_bases.grade, complaint_grade_bases.reasons)
            is distinct from (excluded.grade, excluded.reasons);
    {{ remember_daily_scope() }}
{%- endmacro %}
