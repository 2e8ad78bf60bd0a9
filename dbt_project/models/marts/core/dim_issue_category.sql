-- The 15 top-level issue categories with their handling unit and time limit (to close: the
-- closing limit of their time-limit basis, seeds/time_limits.csv).
select
    categories.category_code,
    categories.category_name_zh,
    categories.description,
    categories.handling_unit,
    limits.closing_limit_hours as time_limit_hours,
    categories.time_limit_basis,
    limits.closing_limit_source as time_limit_source
from {{ ref('issue_categories') }} as categories
left join {{ ref('time_limits') }} as limits using (time_limit_basis)
