{#- The moment "now" means for overdue and backlog figures. A scheduled run passes the end of its
    logical day (`--vars '{as_of: "2026-07-31T24:00:00+08:00"}'`) so that a re-run or a backfill
    computes the same figures as the first run did; interactive runs use the clock. -#}
{% macro as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        now()
    {%- endif -%}
{%- endmacro %}
