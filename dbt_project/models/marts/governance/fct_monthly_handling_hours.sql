-- Per month (by the Beijing day the demand was received) × area × issue category: the closed demands with a
-- handling time and their median hours (受理到办结). area 'community' rows per community, 'street' rows over
-- each street as a whole (issue 23: per street_id, a district's streets apart; a complaint in its street,
-- fct_complaints.street_id). A median does not add up from daily cells, so it is read per complaint; this table
-- keeps the result per month for mart_issue_category_monthly, which reads it.
--
-- Incremental: a build recomputes the months whose complaints may have changed since the last one — the
-- months of the rows fct_complaints deleted or inserted (ops.complaint_day_changes) and those the as-of
-- moment reached — and keeps the others (macros/daily_scope.sql: month_scope); the result equals a full
-- rebuild. At 10,000,000 complaints of history the monthly mart read every closed complaint each run.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ prepare_month_scope() }}",
    post_hook=["{{ remember_daily_scope() }}", "{{ ensure_index(['month_start']) }}"],
) }}
-- depends_on: {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}, {{ source('ops', 'aggregate_scope') }}

with

as_of as (
    select {{ as_of() }} as as_of_at
),

handling_times as (
    select
        date_trunc('month', complaints.received_date)::date as month_start,
        complaints.street_id,
        complaints.community_id,
        complaints.category_code,
        -- reception logs carry no closure time (closed_at is the entry day): no handling time from them
        extract(epoch from complaints.closed_at - complaints.received_at) / 3600.0 as handling_hours
    from {{ ref('fct_complaints') }} as complaints
    {%- if not daily_scope_state()['all'] %}
    join ({{ month_scope() }}) as months
        on complaints.received_date >= months.month_start
        and complaints.received_date < months.month_start + interval '1 month'
    {%- endif %}
    where complaints.received_at < (select as_of_at from as_of)  -- a later complaint counts from its own day on
      and complaints.source_channel <> 'reception' and complaints.closed_at is not null
)

select
    month_start,
    case when grouping(community_id) = 1 then 'street' else 'community' end as area_level,
    case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
    street_id,
    category_code,
    count(*)::integer as closed_with_time_count,
    percentile_cont(0.5) within group (order by handling_hours) as median_handling_hours
from handling_times
group by grouping sets ((month_start, category_code, street_id, community_id), (month_start, category_code, street_id))
