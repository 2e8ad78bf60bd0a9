{{
    config(
        materialized='incremental',
        unique_key=['date_day', 'community_id', 'category_code'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        pre_hook="{{ reset_when_settings_change([]) }}",
        post_hook="{{ remember_settings([]) }}"
    )
}}
-- One row per Beijing calendar day × community × issue category, zero-filled over every day from
-- the first complaint to the run's as-of day, every community of dim_community and every category, in the
-- community's street (street_id, issue 23: a complaint's street is fct_complaints.street_id; 'unresolved',
-- which collects the complaints of any street, has a row in each street, as in macros/governance.sql
-- street_areas):
-- received (by channel, proactive), closed that day, and the open backlog and overdue open orders
-- at the end of the day (or at the as-of moment on the as-of day itself).
--
-- Incremental: the counts of a past day change only when a record of that day arrives late or is
-- reclassified, so a run recomputes the days of the lookback window (var marts_lookback_days,
-- 14 by default) and keeps older days. Backlog figures of a window day are always computed from
-- the whole history. A released held file (quality/held.py) rebuilds every day once
-- (macros/incremental.sql). Data later than the window, a reclassification of older texts or a new
-- community in the seed: run with --full-refresh. An incremental run reads only the complaints that can
-- count in the window: received in it, closed in it, or not closed (at 10,000,000 complaints of history
-- it read every complaint and every cancellation for 14 days' cells: 38.5 s). A table built before
-- street_id is rebuilt whole once (macros/incremental.sql: lacks_contract_columns).
{%- set incremental = is_incremental() and not settings_changed([]) and not lacks_contract_columns() %}
{%- set channels = intake_channels() %}

with

as_of as (
    select {{ as_of() }} as as_of_at
),

relevant as (
    select complaints.*
    from {{ ref('fct_complaints') }} as complaints
    {%- if incremental and execute %}
    {#- the window's first day as a constant, so that the planner estimates how few rows it keeps (a subquery
        here made it loop over the days: minutes at 1M) -#}
    {%- set first_day = run_query("select " ~ daily_window_start('date_day', bj_last_day(as_of()))).columns[0].values()[0] %}
    -- one that closed before the window was neither received, closed nor open in it
    where complaints.received_date >= '{{ first_day }}'::date
       or complaints.closed_at >= {{ bj_day_start("'" ~ first_day ~ "'") }}
       or complaints.closed_at is null
    {%- endif %}
),

cancellations as (
    select complaint_id, max(event_at) as cancelled_at
    from {{ ref('fct_complaint_status_events') }}
    where event_type = 'cancelled'
      and complaint_id in (select complaint_id from relevant where status = 'cancelled')
    group by complaint_id
),

complaints as (
    select
        complaints.complaint_id,
        complaints.street_id,
        complaints.community_id,
        complaints.category_code,
        complaints.source_channel,
        complaints.is_proactive,
        complaints.received_at,
        complaints.received_date,
        complaints.due_at,
        -- a closure whose time the export left empty counts at the version that reported it
        coalesce(complaints.closed_at,
                 case when complaints.status = 'closed' then complaints.last_updated_at end) as closed_at,
        case when complaints.status = 'cancelled'
             then coalesce(cancellations.cancelled_at, complaints.last_updated_at) end as cancelled_at
    from relevant as complaints
    left join cancellations using (complaint_id)
),

spans as (
    select *, coalesce(closed_at, cancelled_at) as ended_at
    from complaints
),

bounds as (
    {{ calendar_bounds('select min(received_date) from ' ~ ref('fct_complaints')) }}
),

days as (
    select
        day::date as date_day,
        {{ bj_day_start('day') }} as day_start,
        {{ bj_day_start("day + interval '1 day'") }} as day_end,
        bounds.as_of_at
    from bounds
    cross join lateral generate_series(bounds.first_day, bounds.last_day, interval '1 day') as day
    {% if incremental %}
    where day::date >= {{ daily_window_start('date_day', 'bounds.last_day') }}
    {% endif %}
),

received as (
    select
        received_date as date_day,
        street_id,
        community_id,
        category_code,
        count(*) as received_total,
        {%- for channel in channels %}
        count(*) filter (where source_channel = '{{ channel }}') as received_{{ channel }},
        {%- endfor %}
        count(*) filter (where is_proactive) as received_proactive
    from spans
    group by 1, 2, 3, 4
),

closed as (
    select days.date_day, spans.street_id, spans.community_id, spans.category_code, count(*) as closed_count
    from days
    join spans
        on spans.closed_at >= days.day_start
        and spans.closed_at < days.day_end
        and spans.closed_at <= days.as_of_at
    group by 1, 2, 3, 4
),

open_state as (
    -- open at the end of the day: received by then and not yet closed or cancelled
    select
        days.date_day,
        spans.street_id,
        spans.community_id,
        spans.category_code,
        count(*) as open_backlog,
        count(*) filter (where spans.due_at < least(days.day_end, days.as_of_at)) as overdue_open
    from days
    join spans
        on spans.received_at < days.day_end
        and spans.received_at < days.as_of_at
        and (spans.ended_at is null or spans.ended_at >= days.day_end or spans.ended_at > days.as_of_at)
    group by 1, 2, 3, 4
),

-- the streets counted (aggregates, not a scan of the complaints): the 'unresolved' street is a row only with them
counted_streets as (
    select street_id from received
    union all select street_id from closed
    union all select street_id from open_state
),

areas as (
    select street_id, community_id from ({{ street_areas('counted_streets') }}) as areas where area_level = 'community'
),

grid as (
    select days.*, areas.street_id, areas.community_id, categories.category_code
    from days
    cross join areas
    cross join {{ ref('dim_issue_category') }} as categories
)

select
    grid.date_day,
    grid.community_id,
    grid.street_id,
    grid.category_code,
    coalesce(received.received_total, 0)::integer as received_total,
    {%- for channel in channels %}
    coalesce(received.received_{{ channel }}, 0)::integer as received_{{ channel }},
    {%- endfor %}
    coalesce(received.received_proactive, 0)::integer as received_proactive,
    coalesce(closed.closed_count, 0)::integer as closed_count,
    coalesce(open_state.open_backlog, 0)::integer as open_backlog_end_of_day,
    coalesce(open_state.overdue_open, 0)::integer as overdue_open_end_of_day,
    least(grid.day_end, grid.as_of_at) as state_evaluated_at,
    grid.day_end <= grid.as_of_at as is_complete_day
from grid
left join received using (date_day, street_id, community_id, category_code)
left join closed using (date_day, street_id, community_id, category_code)
left join open_state using (date_day, street_id, community_id, category_code)
