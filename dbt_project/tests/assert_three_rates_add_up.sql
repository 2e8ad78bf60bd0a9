-- mart_three_rates re-aggregates: a street row is the sum of its street's community rows, the 'ranked' scope the
-- sum of the ranked channels' scopes, and a month the sum of its days — numerators and denominators alike.

with

rates as (
    select * from {{ ref('mart_three_rates') }}
),

ranked_channels as (
    select source_channel as channel_scope from {{ ref('ranked_channels') }}
),

measures as (
    select
        period_grain, period_start, area_level, street_id, community_id, channel_scope,
        array[received_orders, due_for_contact_orders, contacted_in_time_orders, resolution_visited_orders,
              resolved_orders, satisfaction_visited_orders, satisfied_orders, basically_satisfied_orders,
              dissatisfied_orders] as figures
    from rates
),

summed as (
    -- street = sum of communities
    select 'street' as check_name, period_grain, period_start, street_id, 'street' as community_id, channel_scope,
           array[sum(figures[1]), sum(figures[2]), sum(figures[3]), sum(figures[4]), sum(figures[5]),
                 sum(figures[6]), sum(figures[7]), sum(figures[8]), sum(figures[9])]::integer[] as figures
    from measures where area_level = 'community'
    group by period_grain, period_start, street_id, channel_scope
    union all
    -- ranked = sum of the ranked channels
    select 'ranked', period_grain, period_start, street_id, community_id, 'ranked',
           array[sum(figures[1]), sum(figures[2]), sum(figures[3]), sum(figures[4]), sum(figures[5]),
                 sum(figures[6]), sum(figures[7]), sum(figures[8]), sum(figures[9])]::integer[]
    from measures where channel_scope in (select channel_scope from ranked_channels)
    group by period_grain, period_start, street_id, community_id
    union all
    -- month = sum of its days
    select 'month', 'month', date_trunc('month', period_start)::date, street_id, community_id, channel_scope,
           array[sum(figures[1]), sum(figures[2]), sum(figures[3]), sum(figures[4]), sum(figures[5]),
                 sum(figures[6]), sum(figures[7]), sum(figures[8]), sum(figures[9])]::integer[]
    from measures where period_grain = 'day'
    group by date_trunc('month', period_start), street_id, community_id, channel_scope
)

select summed.check_name, summed.period_grain, summed.period_start, summed.street_id, summed.community_id,
       summed.channel_scope,
       summed.figures as expected, measures.figures as found
from summed
left join measures using (period_grain, period_start, street_id, community_id, channel_scope)
where measures.figures is distinct from summed.figures
