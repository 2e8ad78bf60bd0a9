{#- Pre-hooks for a whole-table model whose CTEs of cross joins (a dense grid of periods × communities ×
    categories) the planner estimates at a handful of rows: with a district's communities it chose nested
    loops and merges on part of the keys, comparing every row with every other. Hash joins only, for the
    build's transaction (`set local`). Over a city's 300 streets (`minqing bench --streets 300`, issue 23):
    mart_sentiment_code 79 s -> 10 s, mart_high_frequency_problems 183 s -> 2 s on a smaller day; the same
    rows either way. mart_complaint_grades (after its scope's pre-hook, whose probes are nested loops by
    design): its six-column join with the sentiment code estimated at one row, so each of 160,000 grades
    scanned dim_community's 911 rows, 17.0 s -> 1.0 s (EXPLAIN ANALYZE of the bench day's select). -#}
{% macro hash_joins_only() -%}
    {{ return(["set local enable_nestloop = off", "set local enable_mergejoin = off"]) }}
{%- endmacro %}
