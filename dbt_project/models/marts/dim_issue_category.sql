-- The 15 top-level issue categories with their handling unit and time limit.
select
    categories.category_code,
    categories.category_name_zh,
    categories.description,
    categories.handling_unit,
    categories.time_limit_hours,
    categories.time_limit_basis,
    limits.source as time_limit_source
from {{ ref('issue_categories') }} as categories
left join {{ ref('time_limits') }} as limits using (time_limit_basis)
