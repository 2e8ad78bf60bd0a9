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
