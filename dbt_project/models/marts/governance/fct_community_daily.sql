{{
    config(
        materialized='incremental',
        unique_key=['date_day', 'community_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}
-- One row per Beijing calendar day × community (zero-filled): the daily dispatch-meeting figures.
-- Complaint figures are the sum over categories of fct_community_category_daily (every complaint has
-- exactly one category, so every figure adds up); the mini-program's bill payments and renovation
-- applications are counted beside them from the tickets' latest versions, never as complaints.
-- Per street (issue 23) as fct_community_category_daily: a community in its street, 'unresolved' in each;
-- a non-demand ticket in the street int_complaints__community_resolved places it in, as a complaint.
-- Incremental with the same lookback window as fct_community_category_daily; a table built before street_id
-- is rebuilt whole once.
{%- set channels = intake_channels() %}

with

as_of as (
    select {{ as_of() }} as as_of_at
),

categories as (
    select *
    from {{ ref('fct_community_category_daily') }}
    {% if is_incremental() and not lacks_contract_columns() %}
    where date_day >= {{ daily_window_start('date_day', bj_last_day('(select as_of_at from as_of)')) }}
    {% endif %}
),

complaint_days as (
    select
        date_day,
        street_id,
        community_id,
        sum(received_total) as received_total,
        {%- for channel in channels %}
        sum(received_{{ channel }}) as received_{{ channel }},
        {%- endfor %}
        sum(received_proactive) as received_proactive,
        sum(closed_count) as closed_count,
        sum(open_backlog_end_of_day) as open_backlog_end_of_day,
        sum(overdue_open_end_of_day) as overdue_open_end_of_day,
        min(state_evaluated_at) as state_evaluated_at,
        bool_and(is_complete_day) as is_complete_day
    from categories
    group by date_day, street_id, community_id
),

-- The latest version of every mini-program ticket that is not a resident demand, with its community
-- resolved like any complaint's (int_complaints__community_resolved keeps them; fct_complaints drops them).
non_demand as (
    select
        {{ bj_date('received_at') }} as date_day,
        street_id,
        community_id,
        count(*) filter (where demand_type = 'bill_payment') as bill_payments,
        count(*) filter (where demand_type = 'decoration_application') as decoration_applications,
        count(*) filter (where demand_type is distinct from 'bill_payment'
                           and demand_type is distinct from 'decoration_application') as other_tickets
    from {{ ref('int_complaints__community_resolved') }}
    where source_channel = 'miniprogram' and not is_resident_demand
    group by 1, 2, 3
)

select
    complaint_days.date_day,
    complaint_days.community_id,
    complaint_days.street_id,
    complaint_days.received_total::integer as received_total,
    {%- for channel in channels %}
    complaint_days.received_{{ channel }}::integer as received_{{ channel }},
    {%- endfor %}
    complaint_days.received_proactive::integer as received_proactive,
    (complaint_days.received_proactive::numeric / nullif(complaint_days.received_total, 0))::numeric(5, 4)
        as proactive_share,
    complaint_days.closed_count::integer as closed_count,
    complaint_days.open_backlog_end_of_day::integer as open_backlog_end_of_day,
    complaint_days.overdue_open_end_of_day::integer as overdue_open_end_of_day,
    coalesce(non_demand.bill_payments, 0)::integer as miniprogram_bill_payments,
    coalesce(non_demand.decoration_applications, 0)::integer as miniprogram_decoration_applications,
    coalesce(non_demand.other_tickets, 0)::integer as miniprogram_other_non_demand,
    complaint_days.state_evaluated_at,
    complaint_days.is_complete_day
from complaint_days
left join non_demand using (date_day, street_id, community_id)
