-- Reports per Beijing day × community (in its street: street_id, the complaint's) × issue category × building or place × complainant: a shared
-- aggregate of the marts that count repeats (a building, or a complainant, with more than one report of
-- a problem in a period) and of the high-frequency list, which sum these daily cells over their months,
-- weeks and rolling windows instead of each grouping the complaints again.
-- address_key: the building or place (fct_complaints.address_key), null when the address names none
-- ('<community>:?' says nothing about repeats); complainant_key: the keyed hash of the person, null when
-- unknown. Each cell holds one address and one complainant, so "a repeat of its building or of its
-- complainant" is decided per cell, exactly as per report. open / overdue_open: the state at the build's
-- as-of moment. Complaints received from the as-of moment on are not counted yet.
-- Incremental as fct_daily_complaint_counts: only the cells that may differ since the last build are
-- built again (macros/daily_scope.sql).
{{ config(materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          indexes=[{"columns": ["received_date"]}],
          pre_hook="{{ prepare_daily_scope() }}", post_hook="{{ remember_daily_scope() }}") }}
-- depends_on: {{ ref('time_limits') }}, {{ ref('fct_complaints') }}, {{ ref('fct_complaint_status_events') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}, {{ source('ops', 'aggregate_scope') }}
{%- set grain = ['received_date', 'community_id', 'street_id', 'category_code', 'address_key', 'complainant_key'] %}

with

complaints as (
    select
        complaints.received_date,
        complaints.community_id,
        complaints.street_id,
        complaints.category_code,
        case when complaints.address_key not like '%:?' then complaints.address_key end as address_key,
        complaints.complainant_key,
        complaints.is_proactive,
        complaints.status not in ('closed', 'cancelled') as is_open,
        complaints.due_at < as_of.as_of_at as is_past_due
    from {{ ref('fct_complaints') }} as complaints
    cross join (select {{ as_of() }} as as_of_at) as as_of
    where complaints.received_at < as_of.as_of_at
      and {{ in_daily_scope('complaints') }}
)

select
    {{ grain | join(', ') }},
    {{ counted([
        ['reports', none], ['proactive_reports', 'is_proactive'], ['open_reports', 'is_open'],
        ['overdue_open_reports', 'is_open and is_past_due']]) }}
from complaints
group by {{ grain | join(', ') }}
