-- Every 每月一题 candidate's score is the weighted sum of its parts, with the weights in force in
-- seeds/monthly_theme_weights.csv (a row naming the candidate level wins over a blank one), looked up here
-- independently of the model's macros; and the ranking follows the score: ranks 1…n without gaps, at most
-- top_n per month, street and level, never a higher score below a lower one, every candidate at least min_volume.
-- Each returned row names the first rule broken; an empty result means every score and rank can be
-- recomputed from its row and the seed. The seed is named, not a ref (macros/relations.sql): the candidates
-- are built after the link stage, and the test runs once, with them.

with

themes as (
    select * from {{ ref('mart_monthly_theme_candidates') }}
),

in_force as (
    select distinct on (levels.candidate_level, weights.setting)
        levels.candidate_level, weights.setting, weights.value
    from (values ('community_category'), ('street_category')) as levels (candidate_level)
    join {{ relation_of('monthly_theme_weights') }} as weights
        on weights.candidate_level = levels.candidate_level or weights.candidate_level is null
    order by levels.candidate_level, weights.setting, weights.candidate_level is null
),

settings as (
    select
        candidate_level,
        max(value) filter (where setting = 'weight_volume') as weight_volume,
        max(value) filter (where setting = 'weight_growth') as weight_growth,
        max(value) filter (where setting = 'weight_repeat_complainants') as weight_repeat_complainants,
        max(value) filter (where setting = 'weight_repeat_addresses') as weight_repeat_addresses,
        max(value) filter (where setting = 'weight_dissatisfied') as weight_dissatisfied,
        max(value) filter (where setting = 'weight_overdue') as weight_overdue,
        max(value) filter (where setting = 'weight_communities') as weight_communities,
        max(value) filter (where setting = 'top_n') as top_n,
        max(value) filter (where setting = 'min_volume') as min_volume
    from in_force
    group by candidate_level
),

checked as (
    select
        themes.*,
        settings.top_n,
        settings.min_volume,
        round(settings.weight_volume * themes.volume_part
            + settings.weight_growth * themes.growth_part
            + settings.weight_repeat_complainants * themes.repeat_complainant_part
            + settings.weight_repeat_addresses * themes.repeat_address_part
            + settings.weight_dissatisfied * themes.dissatisfied_part
            + settings.weight_overdue * themes.overdue_part
            + settings.weight_communities * themes.communities_part, 4) as expected_score,
        lag(themes.score) over level_month as better_score,
        count(*) over (partition by themes.month_start, themes.street_id, themes.candidate_level) as candidates_in_month,
        max(themes.candidate_rank) over (partition by themes.month_start, themes.street_id, themes.candidate_level) as last_rank
    from themes
    left join settings using (candidate_level)
    window level_month as (partition by themes.month_start, themes.street_id, themes.candidate_level order by themes.candidate_rank)
)

select
    month_start, street_id, candidate_level, community_id, category_code, candidate_rank, score, expected_score,
    case
        when expected_score is null then 'a weight is missing from the seed'
        when score <> expected_score then 'score is not the weighted sum of its parts'
        when last_rank <> candidates_in_month then 'ranks are not 1…n without gaps'
        when candidates_in_month > top_n then 'more than top_n candidates'
        when score > better_score then 'a higher score ranks below a lower one'
        when volume < min_volume then 'a candidate below min_volume'
        when communities_part <> 0 and candidate_level = 'community_category' then 'communities part on a community row'
    end as rule_broken
from checked
where expected_score is null
   or score <> expected_score
   or last_rank <> candidates_in_month
   or candidates_in_month > top_n
   or score > better_score
   or volume < min_volume
   or (communities_part <> 0 and candidate_level = 'community_category')
