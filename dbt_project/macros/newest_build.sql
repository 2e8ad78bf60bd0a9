{#- The rows the newest build wrote (issue 17: a daily cost flat in history).

    The largest tables (int_complaints__latest, fct_complaints, fct_complaint_status_events,
    mart_complaint_grades) are incremental: a daily build rewrites the day's rows and those it rebuilds,
    and keeps the millions of others as they were. Each row carries `built_at`, the moment the dbt
    invocation that wrote it started (built_at()), and their tests read the rows of the newest build
    only: the rows kept were tested by the build that wrote them. At 10,000,000 rows of history the
    tests of every row took about 270 s of the day's node time (BENCHMARKS.md, run 6).

    Every row is tested again by a full refresh (`minqing rebuild`, `dbt build --full-refresh`), and by
    `dbt test --vars '{test_every_row: true}'` at any time. Keys need no reading of rows
    (tests/generic/unique_enforced.sql: the primary key refuses a duplicate as it is written). -#}

{#- SQL: the moment this dbt invocation started, the value of `built_at` in the rows it writes. -#}
{% macro built_at() -%}
    cast('{{ run_started_at.isoformat() }}' as timestamptz)
{%- endmacro %}

{#- True when the tests of `relation` read only its newest build's rows: a model with a `built_at`
    column in its yml, outside a full refresh and without the var test_every_row. -#}
{% macro tests_read_newest_build(relation) -%}
    {%- if not execute or flags.FULL_REFRESH or var('test_every_row', false) -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.alias == relation.identifier and node.schema == relation.schema -%}
            {{ return('built_at' in node.columns) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{#- SQL: `relation`, or the rows of its newest build when its tests read only those (above). -#}
{% macro newest_build(relation) -%}
    {%- if tests_read_newest_build(relation) -%}
        (select * from {{ relation }} where built_at = (select max(built_at) from {{ relation }}))
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- dbt's own, which every generic test calls for the relation it tests (the `where` config), narrowed
    to the newest build's rows as above; unique_enforced reads the catalogue of the table itself. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set reads_rows = model.get('test_metadata', {}).get('name') != 'unique_enforced' -%}
    {%- if where or (reads_rows and tests_read_newest_build(relation)) -%}
        {%- set filtered -%}
            (select * from {{ newest_build(relation) }} as tested where {{ where or 'true' }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
