{#- Beijing time: the zone of var time_zone (dbt_project.yml), the one place SQL names it. -#}

{#- A timestamp with time zone as Beijing wall-clock time (timestamp without time zone). -#}
{% macro bj_local(ts) -%}
    (({{ ts }}) at time zone '{{ var("time_zone") }}')
{%- endmacro %}

{#- The Beijing calendar day of a timestamp, and the moment a Beijing calendar day starts. -#}
{% macro bj_date(ts) -%}
    {{ bj_local(ts) }}::date
{%- endmacro %}

{% macro bj_day_start(day) -%}
    ((({{ day }})::date)::timestamp at time zone '{{ var("time_zone") }}')
{%- endmacro %}

{#- The last Beijing day the run knows about: the day of the as-of moment. A pinned end of day
    ("2026-07-31T24:00:00+08:00") is the end of 31 July, not a day of its own. -#}
{% macro bj_last_day(as_of_expression) -%}
    {{ bj_date(as_of_expression ~ " - interval '1 microsecond'") }}
{%- endmacro %}

{#- The calendar of a mart: one row per period of each grain ('day', 'week' = Monday to Sunday,
    'month'), from the period holding bounds.first_day to the one holding bounds.last_day —
    period_grain, period_start, period_end (the next period's start) and bounds.as_of_at. `bounds`
    is a relation with first_day, last_day and as_of_at (one row). -#}
{% macro calendar_periods(grains, bounds='bounds') -%}
    {%- for grain in grains %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select '{{ grain }}' as period_grain, period::date as period_start,
           (period + interval '1 {{ grain }}')::date as period_end, {{ bounds }}.as_of_at
    from {{ bounds }}
    cross join lateral generate_series(date_trunc('{{ grain }}', {{ bounds }}.first_day), {{ bounds }}.last_day,
                                       interval '1 {{ grain }}') as period
    {%- endfor %}
{%- endmacro %}

{#- The bounds of a mart's calendar (one row): its first day, the last day the run knows about
    and the as-of moment. Reads the `as_of` CTE (as_of_at) of the model. -#}
{% macro calendar_bounds(first_day) -%}
    select ({{ first_day }}) as first_day, {{ bj_last_day('as_of.as_of_at') }} as last_day, as_of.as_of_at
    from as_of
{%- endmacro %}
