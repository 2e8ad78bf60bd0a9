-- The monthly ranking of the streets (街道排名, issue 23), as the city ranks its 343 streets and towns: per month,
-- each street's three rates and composite in the city's view (mart_three_rates: street rows, channel scope
-- 'ranked'), its rank by composite, its class (先进类, 进步类, 整改类, 治理类: the rules and their sources are
-- seeds/ranking_classes.csv) and the change since the previous month. Streets without a composite (no order
-- visited or due) are listed unranked. The figures behind each rank travel with it:
-- dbt_project/tests/assert_street_ranking_reproducible.sql recomputes rank and class from them.

with

settings as (
    select
        {{ rate_setting('min_streets', 'ranking_classes') }} as min_streets,
        {{ rate_setting('governance_share', 'ranking_classes') }} as governance_share,
        {{ rate_setting('rectification_share', 'ranking_classes') }} as rectification_share,
        {{ rate_setting('advanced_share', 'ranking_classes') }} as advanced_share,
        {{ rate_setting('progress_places', 'ranking_classes') }} as progress_places
),

rates as (
    select rates.*
    from {{ ref('mart_three_rates') }} as rates
    where rates.period_grain = 'month' and rates.area_level = 'street' and rates.channel_scope = 'ranked'
      and rates.street_id <> 'unresolved'
),

ranked as (
    select
        rates.*,
        case when rates.composite_score is not null
             then rank() over (partition by rates.period_start, rates.composite_score is null
                               order by rates.composite_score desc) end as street_rank,
        count(rates.composite_score) over (partition by rates.period_start) as streets_ranked
    from rates
),

counts as (
    -- how many streets each class takes this month (rounded, at least one), by the seed's shares
    select
        ranked.*,
        greatest(1, round(ranked.streets_ranked * settings.governance_share)) as governance_count,
        greatest(1, round(ranked.streets_ranked * settings.rectification_share)) as rectification_count,
        greatest(1, round(ranked.streets_ranked * settings.advanced_share)) as advanced_count,
        ranked.streets_ranked >= settings.min_streets as classes_given,
        settings.progress_places
    from ranked
    cross join settings
),

with_previous as (
    select
        counts.*,
        previous.street_rank as previous_rank,
        previous.composite_score as previous_composite_score
    from counts
    left join ranked as previous
        on previous.street_id = counts.street_id
        and previous.period_start = (counts.period_start - interval '1 month')::date
),

classed as (
    select
        with_previous.*,
        case
            when not classes_given or street_rank is null then null
            when street_rank > streets_ranked - governance_count then 'governance'
            when street_rank > streets_ranked - governance_count - rectification_count then 'rectification'
            when street_rank <= advanced_count then 'advanced'
            when previous_rank - street_rank >= progress_places then 'progress'
        end as rank_class
    from with_previous
)

select
    classed.period_start as month_start,
    classed.is_complete_period as is_complete_month,
    classed.street_id,
    streets.street_name,
    streets.district_name,
    streets.names_invented,
    classed.street_rank::integer as street_rank,
    classed.streets_ranked::integer as streets_ranked,
    classed.rank_class,
    case classed.rank_class
        when 'advanced' then '先进类' when 'progress' then '进步类'
        when 'rectification' then '整改类' when 'governance' then '治理类'
    end as rank_class_zh,
    classed.previous_rank::integer as previous_rank,
    (classed.previous_rank - classed.street_rank)::integer as places_gained,
    classed.composite_score,
    (classed.composite_score - classed.previous_composite_score)::numeric(5, 4) as composite_change,
    classed.response_rate,
    classed.resolution_rate,
    classed.satisfaction_rate,
    classed.received_orders,
    classed.due_for_contact_orders,
    classed.contacted_in_time_orders,
    classed.resolution_visited_orders,
    classed.resolved_orders,
    classed.satisfaction_visited_orders,
    classed.satisfaction_points,
    classed.weight_response,
    classed.weight_resolution,
    classed.weight_satisfaction,
    classed.classes_given,
    classed.governance_count::integer as governance_count,
    classed.rectification_count::integer as rectification_count,
    classed.advanced_count::integer as advanced_count,
    classed.progress_places::integer as progress_places
from classed
join {{ ref('dim_street') }} as streets using (street_id)
