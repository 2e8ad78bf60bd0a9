-- The problem of each resident demand (ops.problem_members): one row per complaint once linked.
with

source as (
    select * from {{ source('linking', 'problem_members') }}
),

renamed as (
    select
        complaint_id,
        problem_id,
        linked_at
    from source
)

select * from renamed
