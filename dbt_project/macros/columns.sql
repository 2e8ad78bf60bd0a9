{#- `coalesce(<relation>.<column>, 0) as <column>` for each column, comma-separated: the counts of a
    sparse aggregate on a dense grid (a day, month or area with nothing is 0, not null). -#}
{% macro zero_filled(relation, columns) -%}
    {%- for column in columns -%}
        coalesce({{ relation }}.{{ column }}, 0) as {{ column }}{{ ",\n        " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- `<column>::<type> as <column>` for each column, comma-separated: a final select's typing. -#}
{% macro cast_columns(columns, type) -%}
    {%- for column in columns -%}
        {{ column }}::{{ type }} as {{ column }}{{ ",\n    " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- `sum(<measure>_reports)::bigint as <measure>_<noun>` for each measure, comma-separated: a period's
    figures from the daily cells of fct_daily_complaint_counts ('received' is the cell's `reports`). -#}
{% macro summed_daily_counts(measures, noun) -%}
    {%- for measure in measures -%}
        sum({{ 'reports' if measure == 'received' else measure ~ '_reports' }})::bigint as {{ measure }}_{{ noun }}
        {{- ",\n        " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- `count(*) filter (where <condition>)::integer as <name>` for each [name, condition] pair,
    comma-separated (a condition of none counts every row): the counts of a daily aggregate's cell. -#}
{% macro counted(pairs) -%}
    {%- for name, condition in pairs -%}
        count(*){{ ' filter (where ' ~ condition ~ ')' if condition else '' }}::integer as {{ name }}
        {{- ",\n    " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
