-- The pairs the link stage linked (ops.problem_links), the later report first: the score and its parts.
with

source as (
    select * from {{ source('linking', 'problem_links') }}
),

renamed as (
    select
        complaint_id,
        linked_to as linked_to_complaint_id,
        rule as link_rule,
        score as link_score,
        text_score,
        address_score,
        same_building,
        same_complainant,
        shared_kinds,
        same_category,
        hours_apart,
        linked_at
    from source
)

select * from renamed
