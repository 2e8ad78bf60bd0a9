-- Complaints per Beijing day × street × community × issue category × intake channel × cancelled or not, with the
-- counts the period marts add up: the sentiment code's weekly and monthly figures, the three rates by day
-- and month, the monthly category figures and the theme candidates sum these cells instead of each
-- counting the complaints again. Flags that depend on time (overdue, due for contact) are evaluated at
-- the build's as-of moment; complaints received from it on are not counted yet. Contact limits:
-- seeds/time_limits.csv (response_limit_hours by the category's time-limit basis).
--
-- Incremental: a build deletes and builds again only the day × community × category cells that may differ
-- since the last one (those fct_complaints changed, those the as-of moment passed a deadline of, those of a return);
-- the others stay as they were, and the result equals a full rebuild (macros/daily_scope.sql).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          indexes=[{"columns": ["received_date"]}],
          pre_hook="{{ prepare_daily_scope() }}", post_hook="{{ remember_daily_scope() }}") }}
-- depends_on: {{ ref('time_limits') }}, {{ ref('fct_complaints') }}, {{ ref('fct_complaint_status_events') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}, {{ source('ops', 'aggregate_scope') }}
{%- set grain = ['received_date', 'street_id', 'community_id', 'category_code', 'source_channel', 'is_cancelled'] %}

with

as_of as (
    select {{ as_of() }} as as_of_at
),

response_limits as (
    select time_limit_basis, response_limit_hours from {{ ref('time_limits') }}
),

returned as (
    select distinct events.complaint_id
    from {{ ref('fct_complaint_status_events') }} as events
    join {{ ref('fct_complaints') }} as complaints using (complaint_id)
    where events.event_type = 'returned' and events.event_at < {{ as_of() }}
      and {{ in_daily_scope('complaints') }}
),

complaints as (
    select
        complaints.received_date,
        complaints.street_id,
        complaints.community_id,
        complaints.category_code,
        complaints.source_channel,
        coalesce(complaints.status = 'cancelled', false) as is_cancelled,
        complaints.is_proactive,
        complaints.is_overdue,
        returned.complaint_id is not null as is_returned,
        complaints.responded_at,
        coalesce(complaints.dispatched_at, complaints.received_at)
            + response_limits.response_limit_hours * interval '1 hour' as contact_deadline,
        complaints.resolved,
        complaints.satisfaction,
        as_of.as_of_at
    from {{ ref('fct_complaints') }} as complaints
    cross join as_of
    left join {{ ref('dim_issue_category') }} as categories using (category_code)
    left join response_limits using (time_limit_basis)
    left join returned using (complaint_id)
    where complaints.received_at < as_of.as_of_at
      and {{ in_daily_scope('complaints') }}
)

select
    {{ grain | join(', ') }},
    -- due for contact: contacted already, or its contact deadline has passed at the as-of moment
    {%- set due = 'responded_at is not null or contact_deadline <= as_of_at' %}
    {{ counted([
        ['reports', none], ['proactive_reports', 'is_proactive'], ['overdue_reports', 'is_overdue'],
        ['returned_reports', 'is_returned'], ['due_for_contact_reports', due],
        ['contacted_in_time_reports', '(' ~ due ~ ') and responded_at <= contact_deadline']]) }},
    {{ return_visit_counts('reports') }}
from complaints
group by {{ grain | join(', ') }}
