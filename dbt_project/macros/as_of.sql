{#- The moments the marts are built as of.

    Every pipeline run passes its own: the end of the run's day D in Beijing
    (`MINQING_AS_OF=2026-07-17T00:00:00+08:00` in dbt's environment, minqing.pipeline.as_of_for), and is
    on record in ops.pipeline_runs from its start. An environment variable rather than a var: dbt
    re-parses the whole project whenever the command line's vars change (seconds on every run, every
    cosmos task), while a variable read only at execution (`execute`) is not part of what it parsed.
    `--vars '{as_of: …}'` still works by hand (and wins), at the cost of that full parse.

    as_of()      "now" of the marts that hold the current state (open and overdue orders, backlog, the
                 three rates, the sentiment code, grades, the high-frequency list, delivery status):
                 the newest moment of any run on record, this one included. A scheduled run moves it
                 to the end of its day; a backfill of an earlier day leaves it where it is, so that
                 what BI tools read never moves back in time. Records dated after it are loaded and
                 kept, and count from their own day on.
    run_as_of()  the run's own moment: the day the dispatch briefing is written for (a backfill writes
                 that day's briefing as of that day).
    Without either (`minqing rebuild`, dbt by hand) both are the newest run's, or the newest record's
    when no run is on record. -#}
{% macro newest_run_as_of() -%}
    (select max(as_of) from {{ source('ops', 'pipeline_runs') }})
{%- endmacro %}

{#- The run's moment as given: the var, else MINQING_AS_OF at execution; '' when neither. -#}
{% macro given_as_of() -%}
    {{ return(var('as_of', none) or (env_var('MINQING_AS_OF', '') if execute else '')) }}
{%- endmacro %}

{% macro as_of() -%}
    {%- if given_as_of() -%}
        greatest(cast('{{ given_as_of() }}' as timestamptz), {{ newest_run_as_of() }})
    {%- else -%}
        coalesce({{ newest_run_as_of() }}, (select max(version_updated_at) from {{ ref('int_complaints__latest') }}))
    {%- endif -%}
{%- endmacro %}

{% macro run_as_of() -%}
    {%- if given_as_of() -%}
        cast('{{ given_as_of() }}' as timestamptz)
    {%- else -%}
        {{ as_of() }}
    {%- endif -%}
{%- endmacro %}
