-- Every problem the link stage made (ops.problems, minqing/analytics/linking.py): the report that founded
-- it and, once a later report linked it to an older problem, the problem it went into.
with

source as (
    select * from {{ source('linking', 'problems') }}
),

renamed as (
    select
        problem_id,
        founded_by as founded_by_complaint_id,
        founded_at,
        created_at,
        merged_into as merged_into_problem_id,
        merged_at,
        merged_by as merged_by_complaint_id
    from source
)

select * from renamed
