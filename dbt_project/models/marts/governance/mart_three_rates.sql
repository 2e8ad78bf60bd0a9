-- The three rates (三率) and their composite, per period (day and month, by the Beijing day the order
-- was received), per community and for each street as a whole, per channel scope: 'ranked' = the channels of
-- seeds/ranked_channels.csv (the city's view: 12345 and 400), and one scope per channel so that the
-- mini-program and reception can be compared. Counts are sums of fct_daily_complaint_counts (contact
-- limits: seeds/time_limits.csv, applied there); every credit and weight comes from
-- seeds/rate_settings.csv; numerators and denominators travel with the rates.
{%- set channels = intake_channels() %}

with

as_of as (
    select {{ as_of() }} as as_of_at
),

settings as (
    select
        array(select source_channel from {{ ref('ranked_channels') }}) as ranked_channels,
        {{ rate_setting('satisfaction_credit_satisfied') }} as credit_satisfied,
        {{ rate_setting('satisfaction_credit_basically_satisfied') }} as credit_basically_satisfied,
        {{ rate_setting('satisfaction_credit_dissatisfied') }} as credit_dissatisfied,
        {{ rate_setting('weight_response') }} as weight_response,
        {{ rate_setting('weight_resolution') }} as weight_resolution,
        {{ rate_setting('weight_satisfaction') }} as weight_satisfaction
),

orders as (
    -- orders per day × community × channel (fct_daily_complaint_counts, contact flags at the as-of
    -- moment); a cancelled order is nobody's to contact, resolve or satisfy: it is out of all three rates
    select
        daily.*,
        date_trunc('month', daily.received_date)::date as received_month,
        daily.source_channel = any(settings.ranked_channels) as is_ranked
    from {{ ref('fct_daily_complaint_counts') }} as daily
    cross join settings
    where not daily.is_cancelled
),

scoped as (
    select orders.*, 'ranked' as channel_scope from orders where is_ranked
    union all
    select orders.*, source_channel as channel_scope from orders
),

by_period as (
    select 'day' as period_grain, received_date as period_start, scoped.* from scoped
    union all
    select 'month' as period_grain, received_month as period_start, scoped.* from scoped
),

aggregated as (
    select
        period_grain,
        period_start,
        channel_scope,
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        {{ summed_daily_counts([
            'received', 'due_for_contact', 'contacted_in_time', 'resolution_visited', 'resolved',
            'satisfaction_visited', 'satisfied', 'basically_satisfied', 'dissatisfied'], 'orders') }}
    from by_period
    group by grouping sets (
        (period_grain, period_start, channel_scope, street_id, community_id),
        (period_grain, period_start, channel_scope, street_id)
    )
),

bounds as (
    {{ calendar_bounds("select min(received_date) from " ~ ref('fct_complaints')) }}
),

periods as (
    {{ calendar_periods(['day', 'month']) }}
),

areas as (
    {{ street_areas('aggregated') }}
),

scopes as (
    select 'ranked' as channel_scope
    {%- for channel in channels %}
    union all select '{{ channel }}'
    {%- endfor %}
),

grid as (
    select periods.*, areas.*, scopes.channel_scope
    from periods cross join areas cross join scopes
),

counts as (
    select
        grid.period_grain,
        grid.period_start,
        grid.period_end,
        grid.period_end <= {{ bj_date('grid.as_of_at') }} as is_complete_period,
        grid.area_level,
        grid.street_id,
        grid.community_id,
        grid.channel_scope,
        {{ zero_filled('aggregated', [
            'received_orders', 'due_for_contact_orders', 'contacted_in_time_orders',
            'resolution_visited_orders', 'resolved_orders', 'satisfaction_visited_orders',
            'satisfied_orders', 'basically_satisfied_orders', 'dissatisfied_orders']) }}
    from grid
    left join aggregated using (period_grain, period_start, channel_scope, street_id, community_id)
),

rates as (
    select
        counts.*,
        counts.satisfied_orders * settings.credit_satisfied
            + counts.basically_satisfied_orders * settings.credit_basically_satisfied
            + counts.dissatisfied_orders * settings.credit_dissatisfied as satisfaction_points,
        counts.contacted_in_time_orders::numeric / nullif(counts.due_for_contact_orders, 0) as response_rate,
        counts.resolved_orders::numeric / nullif(counts.resolution_visited_orders, 0) as resolution_rate,
        (counts.satisfied_orders * settings.credit_satisfied
            + counts.basically_satisfied_orders * settings.credit_basically_satisfied
            + counts.dissatisfied_orders * settings.credit_dissatisfied)
            / nullif(counts.satisfaction_visited_orders, 0) as satisfaction_rate,
        settings.credit_basically_satisfied,
        settings.weight_response,
        settings.weight_resolution,
        settings.weight_satisfaction
    from counts
    cross join settings
)

select
    period_grain,
    period_start,
    period_end,
    is_complete_period,
    area_level,
    street_id,
    community_id,
    channel_scope,
    received_orders::integer as received_orders,
    due_for_contact_orders::integer as due_for_contact_orders,
    contacted_in_time_orders::integer as contacted_in_time_orders,
    round(response_rate, 4)::numeric(5, 4) as response_rate,
    resolution_visited_orders::integer as resolution_visited_orders,
    resolved_orders::integer as resolved_orders,
    round(resolution_rate, 4)::numeric(5, 4) as resolution_rate,
    satisfaction_visited_orders::integer as satisfaction_visited_orders,
    satisfied_orders::integer as satisfied_orders,
    basically_satisfied_orders::integer as basically_satisfied_orders,
    dissatisfied_orders::integer as dissatisfied_orders,
    satisfaction_points::numeric(14, 4) as satisfaction_points,
    round(satisfaction_rate, 4)::numeric(5, 4) as satisfaction_rate,
    credit_basically_satisfied::numeric(6, 4) as basically_satisfied_credit,
    weight_response::numeric(6, 4) as weight_response,
    weight_resolution::numeric(6, 4) as weight_resolution,
    weight_satisfaction::numeric(6, 4) as weight_satisfaction,
    round(weight_response * response_rate + weight_resolution * resolution_rate
          + weight_satisfaction * satisfaction_rate, 4)::numeric(5, 4) as composite_score
from rates
