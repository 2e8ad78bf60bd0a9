-- The daily community facts add up: channels to the total, categories to the community.

with

daily as (
    select * from {{ ref('fct_community_daily') }}
),

by_category as (
    select
        date_day, street_id, community_id,
        sum(received_total) as received_total,
        sum(closed_count) as closed_count,
        sum(open_backlog_end_of_day) as open_backlog_end_of_day,
        sum(overdue_open_end_of_day) as overdue_open_end_of_day
    from {{ ref('fct_community_category_daily') }}
    group by 1, 2, 3
)

select daily.date_day, daily.community_id, 'channels do not add up to received_total' as problem
from daily
where received_total <> received_hotline_12345 + received_hotline_400 + received_miniprogram + received_reception
   or received_proactive > received_total
   or overdue_open_end_of_day > open_backlog_end_of_day

union all

select daily.date_day, daily.community_id, 'categories do not add up to the community'
from daily
left join by_category using (date_day, street_id, community_id)
where by_category.received_total is distinct from daily.received_total
   or by_category.closed_count is distinct from daily.closed_count
   or by_category.open_backlog_end_of_day is distinct from daily.open_backlog_end_of_day
   or by_category.overdue_open_end_of_day is distinct from daily.overdue_open_end_of_day
