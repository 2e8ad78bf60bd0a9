{#- Helpers of the problem marts (mart_high_frequency_problems, mart_monthly_theme_candidates). Rules and
    weights are read from the seeds at run time, never written into the SQL. -#}

{#- The stable id of a problem (问题编号): md5 of what the problem IS — its level, community, category and
    building (address_key, '' when the level has none) — never of a window or a date, so the same problem
    keeps its id across windows, days and runs. tests/assert_problem_ids_stable.sql recomputes it. -#}
{% macro problem_id(level_expression, community_expression, category_expression, address_expression) -%}
    md5(({{ level_expression }}) || '|' || ({{ community_expression }}) || '|' || ({{ category_expression }})
        || '|' || coalesce({{ address_expression }}, ''))
{%- endmacro %}

{#- A value of seeds/high_frequency_rules.csv for a problem level and window length. A row naming the
    level and the window wins over one that leaves them blank (blank = every level / every window). -#}
{% macro high_frequency_rule(setting, level_expression, window_expression) -%}
    (select rules.value from {{ ref('high_frequency_rules') }} as rules
     where rules.setting = '{{ setting }}'
       and (rules.problem_level = {{ level_expression }} or rules.problem_level is null)
       and (rules.window_days = {{ window_expression }} or rules.window_days is null)
     order by rules.problem_level is null, rules.window_days is null
     limit 1)
{%- endmacro %}

{#- A value of seeds/monthly_theme_weights.csv for a candidate level; a row naming the level wins over
    one that leaves it blank (blank = both levels). -#}
{% macro theme_setting(setting, level_expression) -%}
    (select weights.value from {{ ref('monthly_theme_weights') }} as weights
     where weights.setting = '{{ setting }}'
       and (weights.candidate_level = {{ level_expression }} or weights.candidate_level is null)
     order by weights.candidate_level is null
     limit 1)
{%- endmacro %}

{#- The parts of the monthly theme score, in the order the mart shows them: (part column, weight setting). -#}
{% macro theme_score_parts() -%}
    {{ return([
        ('volume_part', 'weight_volume'),
        ('growth_part', 'weight_growth'),
        ('repeat_complainant_part', 'weight_repeat_complainants'),
        ('repeat_address_part', 'weight_repeat_addresses'),
        ('dissatisfied_part', 'weight_dissatisfied'),
        ('overdue_part', 'weight_overdue'),
        ('communities_part', 'weight_communities'),
    ]) }}
{%- endmacro %}

{#- A share as a Chinese percentage for a reason text (18.0%). -#}
{% macro reason_percent(expression, decimals=1) -%}
    ({{ reason_number('100.0 * (' ~ expression ~ ')', decimals) }} || '%')
{%- endmacro %}
