{#- The moment "now" means for overdue and backlog figures.

    By default it is the data horizon: the newest update time of any record in the warehouse. So
    a re-run or a backfill on the same data computes the same figures, whatever the clock says.
    A run may pin it (`--vars '{as_of: "2026-07-31T24:00:00+08:00"}'`), e.g. to see the state
    "as the street saw it" at the end of a day. -#}
{% macro as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamptz)
    {%- else -%}
        (select max(version_updated_at) from {{ ref('int_complaints__latest') }})
    {%- endif -%}
{%- endmacro %}
