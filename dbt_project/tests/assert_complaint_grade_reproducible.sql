-- Every complaint's level is its base grade (the grade of its community × category in its period)
-- raised by the seed's levels for each of its flags, at most red. The grades the newest build wrote
-- (macros/newest_build.sql).

with

grades as (
    select * from {{ newest_build(ref('mart_complaint_grades')) }} as grades
),

raises as (
    select component, points from {{ relation_of('sentiment_thresholds') }}  -- not a ref: macros/relations.sql
    where grade_level = 'complaint' and rule = 'raise'
),

rank_of (grade, grade_rank) as (
    values ('green', 0), ('yellow', 1), ('orange', 2), ('red', 3)
),

expected as (
    select
        grades.complaint_id,
        grades.grade,
        base.grade_rank
            + case when grades.is_overdue then coalesce((select points from raises where component = 'overdue'), 0) else 0 end
            + case when grades.is_returned then coalesce((select points from raises where component = 'returned'), 0) else 0 end
            + case when grades.is_repeat_address then coalesce((select points from raises where component = 'repeat_address'), 0) else 0 end
            + case when grades.is_dissatisfied then coalesce((select points from raises where component = 'dissatisfied'), 0) else 0 end
            as raw_rank,
        codes.grade as sentiment_grade,
        grades.base_grade
    from grades
    join rank_of as base on base.grade = grades.base_grade
    join {{ ref('mart_sentiment_code') }} as codes
        on codes.grade_level = 'community_category'
        and codes.period_grain = grades.base_period_grain
        and codes.period_start = grades.base_period_start
        and codes.street_id = grades.street_id
        and codes.community_id = grades.community_id
        and codes.category_code = grades.category_code
)

select expected.*
from expected
join rank_of as final on final.grade = expected.grade
where final.grade_rank <> least(expected.raw_rank, 3)
   or expected.sentiment_grade <> expected.base_grade
