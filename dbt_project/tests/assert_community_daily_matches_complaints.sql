{{ config(severity='warn') }}
-- Every complaint received on a day of fct_community_daily is counted there. The daily tables are
-- incremental: a file delivered later than the lookback window (var marts_lookback_days), or old texts
-- reclassified, leave older days behind. That is a warning, not a failure: run
-- `dbt build --full-refresh --select fct_community_category_daily+` to catch up. The days checked are
-- those of the complaints fct_complaints' newest build wrote (macros/newest_build.sql).

with

daily as (
    -- summed over streets ('unresolved' has a row in each street, issue 23)
    select date_day, community_id, sum(received_total) as received_total
    from {{ ref('fct_community_daily') }}
    group by 1, 2
),

complaints as (
    select received_date as date_day, community_id, count(*) as received_total
    from {{ ref('fct_complaints') }}
    where received_date in (select received_date from {{ newest_build(ref('fct_complaints')) }} as built)
    group by 1, 2
)

select complaints.date_day, complaints.community_id, complaints.received_total, daily.received_total as counted
from complaints
join (select min(date_day) as first_day, max(date_day) as last_day from daily) as bounds
    on complaints.date_day between bounds.first_day and bounds.last_day
left join daily using (date_day, community_id)
where daily.received_total is distinct from complaints.received_total
