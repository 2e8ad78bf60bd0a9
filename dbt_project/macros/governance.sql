{#- Helpers of the governance marts (fct_community_*_daily, fct_daily_complaint_counts, mart_three_rates,
    mart_issue_category_monthly, mart_sentiment_code, mart_complaint_grades). Settings are read from the seeds at run time, never
    written into the SQL. -#}

{#- A numeric setting of seeds/rate_settings.csv (or of another settings seed of its shape, seeds/ranking_classes.csv),
    as a scalar subquery. -#}
{% macro rate_setting(name, seed='rate_settings') -%}
    (select cast(value as numeric) from {{ ref(seed) }} where setting = '{{ name }}')
{%- endmacro %}

{#- Points a component earns: those of the highest tier of seeds/sentiment_thresholds.csv (for the
    row's grade level and period grain) whose value the figure reaches; 0 when it reaches none or the
    figure is null. -#}
{% macro sentiment_points(level_expression, grain_expression, component, figure_expression) -%}
    coalesce((
        select max(points) from {{ ref('sentiment_thresholds') }}
        where grade_level = {{ level_expression }} and period_grain = {{ grain_expression }}
          and component = '{{ component }}' and rule = 'points'
          and ({{ figure_expression }}) >= value
    ), 0)::integer
{%- endmacro %}

{#- The grade a total score reaches: the highest cut-off of the seed at or below the score. -#}
{% macro sentiment_grade(level_expression, grain_expression, score_expression) -%}
    (select grade from {{ ref('sentiment_thresholds') }}
     where grade_level = {{ level_expression }} and period_grain = {{ grain_expression }}
       and component = 'total' and rule = 'grade'
       and ({{ score_expression }}) >= value
     order by value desc limit 1)
{%- endmacro %}

{#- Grades in order, and their Chinese names (labels, not thresholds). -#}
{% macro grade_rank(grade_expression) -%}
    (case {{ grade_expression }} when 'green' then 0 when 'yellow' then 1 when 'orange' then 2 when 'red' then 3 end)
{%- endmacro %}

{% macro grade_of_rank(rank_expression) -%}
    (case {{ rank_expression }} when 0 then 'green' when 1 then 'yellow' when 2 then 'orange' when 3 then 'red' end)
{%- endmacro %}

{% macro grade_zh(grade_expression) -%}
    (case {{ grade_expression }} when 'green' then '绿码' when 'yellow' then '黄码' when 'orange' then '橙码' when 'red' then '红码' end)
{%- endmacro %}

{#- A number for a Chinese reason text, with a fixed number of decimals (3.0, 4.5). -#}
{% macro reason_number(expression, decimals=1) -%}
    to_char(round(({{ expression }})::numeric, {{ decimals }}),
            'FM999999990{{ ("." ~ "0" * decimals) if decimals > 0 else "" }}')
{%- endmacro %}

{#- The intake channels, in the order the marts show them. -#}
{% macro intake_channels() -%}
    {{ return(['hotline_12345', 'hotline_400', 'miniprogram', 'reception']) }}
{%- endmacro %}

{#- The lower bound of the days an incremental daily model recomputes: the lookback window
    (var marts_lookback_days, 14 by default) before the newest day already built, or before the
    run's last day when a backfill pins an earlier as-of. -#}
{% macro daily_window_start(date_column, last_day_expression) -%}
    (select least(max({{ date_column }}), {{ last_day_expression }}) from {{ this }})
        - {{ var('marts_lookback_days', 14) | int }}
{%- endmacro %}

{#- The areas of a mart by street (issue 23): every community of dim_community in its street (area_level
    'community'; 'unresolved', which collects the records of any street, in each), and each street as a whole
    (area_level 'street', community_id 'street'). The 'unresolved' street (records whose street nothing
    names) only once a row of `counted` (a relation or CTE with street_id: the mart's own aggregate, already
    computed, rather than a scan of a daily table) is in it. -#}
{% macro street_areas(counted) -%}
    {#- a community in its street, and the street-less ('unresolved') in every street: two selects, as one join
        on `=` or `is null` PostgreSQL can only loop over (communities × streets, a city's 273,000 pairs for
        each period × category the grid repeats them in) -#}
    {%- set shown = "(streets.street_id <> 'unresolved' or exists (select 1 from " ~ counted ~ " where street_id = 'unresolved'))" %}
    select 'community' as area_level, streets.street_id, communities.community_id
    from {{ ref('dim_community') }} as communities
    join {{ ref('dim_street') }} as streets on streets.street_id = communities.street_id
    where {{ shown }}
    union all
    select 'community', streets.street_id, communities.community_id
    from {{ ref('dim_community') }} as communities
    cross join {{ ref('dim_street') }} as streets
    where communities.street_id is null and {{ shown }}
    union all
    select 'street', streets.street_id, 'street'
    from {{ ref('dim_street') }} as streets
    where {{ shown }}
{%- endmacro %}

{#- The return visit's counts (回访) of a group of orders, named <measure>_<noun>, as integers: visited
    for resolution, resolved, visited for satisfaction, and each verdict. -#}
{% macro return_visit_counts(noun) -%}
        count(*) filter (where resolved is not null)::integer as resolution_visited_{{ noun }},
        count(*) filter (where resolved)::integer as resolved_{{ noun }},
        count(*) filter (where satisfaction is not null)::integer as satisfaction_visited_{{ noun }},
        count(*) filter (where satisfaction = 'satisfied')::integer as satisfied_{{ noun }},
        count(*) filter (where satisfaction = 'basically_satisfied')::integer as basically_satisfied_{{ noun }},
        count(*) filter (where satisfaction = 'dissatisfied')::integer as dissatisfied_{{ noun }}
{%- endmacro %}
