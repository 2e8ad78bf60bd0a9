-- Every sentiment grade is reproduced from the figures in its own row and seeds/sentiment_thresholds.csv,
-- computed here independently of the model's macros. A returned row names the first figure that does
-- not follow; an empty result means every grade can be explained from its row.

with

codes as (
    select * from {{ ref('mart_sentiment_code') }}
),

thresholds as (
    select * from {{ relation_of('sentiment_thresholds') }}  -- not a ref: macros/relations.sql
),

parameters as (
    select grade_level, period_grain, component, value from thresholds where rule = 'parameter'
),

rank_of (grade, grade_rank, grade_zh) as (
    values ('green', 0, '绿码'), ('yellow', 1, '黄码'), ('orange', 2, '橙码'), ('red', 3, '红码')
),

expected as (
    select
        codes.*,
        floor_parameter.value as baseline_floor,
        min_count.value as volume_min_count,
        min_periods.value as baseline_min_periods,
        inherit.value as inherit_category_rank,
        case when codes.baseline_volume is not null
             then round(codes.volume / greatest(codes.baseline_volume, floor_parameter.value), 1) end as expected_ratio,
        case when codes.volume >= min_count.value then coalesce(volume_tier.points, 0) else 0 end as expected_volume_points,
        coalesce(address_tier.points, 0) as expected_repeat_address_points,
        coalesce(overdue_tier.points, 0) as expected_overdue_points,
        coalesce(returned_tier.points, 0) as expected_returned_points,
        coalesce(dissatisfied_tier.points, 0) as expected_dissatisfied_points,
        coalesce(forecast_tier.points, 0) as expected_forecast_points
    from codes
    join parameters as floor_parameter
        on (floor_parameter.grade_level, floor_parameter.period_grain, floor_parameter.component)
         = (codes.grade_level, codes.period_grain, 'baseline_floor')
    join parameters as min_count
        on (min_count.grade_level, min_count.period_grain, min_count.component)
         = (codes.grade_level, codes.period_grain, 'volume_min_count')
    join parameters as min_periods
        on (min_periods.grade_level, min_periods.period_grain, min_periods.component)
         = (codes.grade_level, codes.period_grain, 'baseline_min_periods')
    left join parameters as inherit
        on (inherit.grade_level, inherit.period_grain, inherit.component)
         = (codes.grade_level, codes.period_grain, 'inherit_category_rank')
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'volume', 'points')
          and codes.volume_ratio >= t.value
        order by t.value desc limit 1
    ) as volume_tier on true
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'repeat_address', 'points')
          and codes.max_reports_same_address >= t.value
        order by t.value desc limit 1
    ) as address_tier on true
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'overdue', 'points')
          and codes.overdue_orders >= t.value
        order by t.value desc limit 1
    ) as overdue_tier on true
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'returned', 'points')
          and codes.returned_orders >= t.value
        order by t.value desc limit 1
    ) as returned_tier on true
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'dissatisfied', 'points')
          and codes.dissatisfied_orders >= t.value
        order by t.value desc limit 1
    ) as dissatisfied_tier on true
    left join lateral (
        select points from thresholds t
        where (t.grade_level, t.period_grain, t.component, t.rule) = (codes.grade_level, codes.period_grain, 'forecast_surge', 'points')
          and codes.forecast_surge_ratio >= t.value
        order by t.value desc limit 1
    ) as forecast_tier on true
),

with_total as (
    select
        expected.*,
        expected_volume_points + expected_repeat_address_points + expected_overdue_points
            + expected_returned_points + expected_dissatisfied_points + expected_forecast_points as expected_total
    from expected
),

with_grade as (
    select
        with_total.*,
        (select t.grade from thresholds t
         where (t.grade_level, t.period_grain, t.component, t.rule) = (with_total.grade_level, with_total.period_grain, 'total', 'grade')
           and with_total.expected_total >= t.value
         order by t.value desc limit 1) as expected_grade_from_points
    from with_total
),

worst_category as (
    -- the worst grade among a community's category rows of the same period
    select codes.period_grain, codes.period_start, codes.street_id, codes.community_id, max(rank_of.grade_rank) as worst_rank
    from codes
    join rank_of using (grade)
    where codes.grade_level = 'community_category'
    group by 1, 2, 3, 4
),

checked as (
    select
        with_grade.*,
        from_points.grade_rank as from_points_rank,
        worst_category.worst_rank,
        final_rank.grade_rank as final_rank,
        final_rank.grade_zh as expected_grade_zh,
        case
            when with_grade.grade_level = 'community'
                 and worst_category.worst_rank >= with_grade.inherit_category_rank
                 and worst_category.worst_rank > from_points.grade_rank
                then worst_category.worst_rank
            else from_points.grade_rank
        end as expected_rank
    from with_grade
    join rank_of as from_points on from_points.grade = with_grade.expected_grade_from_points
    join rank_of as final_rank on final_rank.grade = with_grade.grade
    left join worst_category using (period_grain, period_start, street_id, community_id)
)

select
    period_grain, period_start, grade_level, community_id, category_code, grade, total_points, reasons,
    case
        when (baseline_volume is null) <> (baseline_periods_used < baseline_min_periods) then 'baseline_volume'
        when volume_ratio is distinct from expected_ratio then 'volume_ratio'
        when volume_points <> expected_volume_points then 'volume_points'
        when repeat_address_points <> expected_repeat_address_points then 'repeat_address_points'
        when overdue_points <> expected_overdue_points then 'overdue_points'
        when returned_points <> expected_returned_points then 'returned_points'
        when dissatisfied_points <> expected_dissatisfied_points then 'dissatisfied_points'
        when forecast_surge_points <> expected_forecast_points then 'forecast_surge_points'
        when total_points <> expected_total then 'total_points'
        when grade_from_points is distinct from expected_grade_from_points then 'grade_from_points'
        when grade_level = 'community' and worst_category_grade is distinct from
             (select grade from rank_of where rank_of.grade_rank = worst_rank) then 'worst_category_grade'
        when final_rank <> expected_rank then 'grade'
        when grade_rank <> final_rank then 'grade_rank'
        when grade_zh <> expected_grade_zh then 'grade_zh'
        when position('计' || total_points || '分' in reasons) = 0 then 'reasons'
    end as figure_not_reproduced
from checked
where
    (baseline_volume is null) <> (baseline_periods_used < baseline_min_periods)
    or volume_ratio is distinct from expected_ratio
    or volume_points <> expected_volume_points
    or repeat_address_points <> expected_repeat_address_points
    or overdue_points <> expected_overdue_points
    or returned_points <> expected_returned_points
    or dissatisfied_points <> expected_dissatisfied_points
    or forecast_surge_points <> expected_forecast_points
    or total_points <> expected_total
    or grade_from_points is distinct from expected_grade_from_points
    or (grade_level = 'community' and worst_category_grade is distinct from
        (select grade from rank_of where rank_of.grade_rank = worst_rank))
    or final_rank <> expected_rank
    or grade_rank <> final_rank
    or grade_zh <> expected_grade_zh
    or position('计' || total_points || '分' in reasons) = 0
