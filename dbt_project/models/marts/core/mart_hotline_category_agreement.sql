-- The hotline's own classification (问题分类) beside ours: per month, hotline category and our
-- category, how many work orders — so an analyst sees where the two agree and where the keyword
-- rules (seeds/category_keywords.csv) or the term map (seeds/hotline_category_map.csv) need work. Per street
-- (issue 23: a district's streets apart, each order in its street, fct_complaints.street_id).
with

orders as (
    select
        street_id,
        date_trunc('month', {{ bj_local('received_at') }})::date as month_start,
        hotline_category_code,
        category_code
    from {{ ref('fct_complaints') }}
    where source_channel in ('hotline_12345', 'hotline_400')
      and hotline_category_code is not null
)

select
    street_id,
    month_start,
    hotline_category_code,
    category_code,
    count(*) as work_orders,
    hotline_category_code = category_code as is_agreement,
    (count(*)::numeric / sum(count(*)) over (partition by street_id, month_start, hotline_category_code))::numeric(6, 4)
        as share_of_hotline_category
from orders
group by street_id, month_start, hotline_category_code, category_code
