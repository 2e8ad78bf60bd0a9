-- mart_street_ranking is reproduced from its own figures: the composite from the three rates and their
-- weights, each rate from its numerator and denominator, the rank from the month's composites, and the
-- class from the rank and the counts each class takes (issue 23). Rows that differ fail.

with

ranking as (
    select * from {{ ref('mart_street_ranking') }}
),

recomputed as (
    select
        ranking.*,
        round(contacted_in_time_orders::numeric / nullif(due_for_contact_orders, 0), 4) as response_again,
        round(resolved_orders::numeric / nullif(resolution_visited_orders, 0), 4) as resolution_again,
        round(satisfaction_points / nullif(satisfaction_visited_orders, 0), 4) as satisfaction_again,
        1 + (select count(*) from ranking as better
             where better.month_start = ranking.month_start and better.composite_score > ranking.composite_score)
            as rank_again,
        (select count(*) from ranking as others
         where others.month_start = ranking.month_start and others.composite_score is not null) as ranked_again
    from ranking
),

checked as (
    select
        recomputed.*,
        case
            when not classes_given or composite_score is null then null
            when rank_again > ranked_again - governance_count then 'governance'
            when rank_again > ranked_again - governance_count - rectification_count then 'rectification'
            when rank_again <= advanced_count then 'advanced'
            when previous_rank - rank_again >= progress_places then 'progress'
        end as class_again
    from recomputed
)

select *
from checked
where response_rate is distinct from response_again
   or resolution_rate is distinct from resolution_again
   or satisfaction_rate is distinct from satisfaction_again
   -- the composite rounds the weighted sum of the unrounded rates: within 0.0002 of the rounded ones'
   or abs(composite_score - (weight_response * response_again + weight_resolution * resolution_again
                             + weight_satisfaction * satisfaction_again)) > 0.0002
   or (composite_score is null) is distinct from (response_again is null or resolution_again is null
                                                  or satisfaction_again is null)
   or (composite_score is not null and street_rank is distinct from rank_again)
   or (composite_score is null and street_rank is not null)
   or streets_ranked is distinct from ranked_again
   or rank_class is distinct from class_again
