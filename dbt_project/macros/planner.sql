{#- Pre-hooks for a whole-table model whose CTEs of cross joins (a dense grid of periods × communities ×
    categories) the planner estimates at a handful of rows: with a district's communities it chose nested
    loops and merges on part of the keys, comparing every row with every other. Hash joins only, for the
    build's transaction (`set local`). Over a city's 300 streets (`minqing bench --streets 300`, issue 23):
    mart_sentiment_code 79 s -> 10 s, mart_high_frequency_problems 183 s -> 2 s on a smaller day; the same
    rows either way. -#}
{% macro hash_joins_only() -%}
    {{ return(["set local enable_nestloop = off", "set local enable_mergejoin = off"]) }}
{%- endmacro %}
