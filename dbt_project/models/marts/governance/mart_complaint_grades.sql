-- 诉求分类定级: one row per complaint with its category (a person's label when there is one, see
-- fct_complaints.category_source) and level. The level starts from the sentiment
-- grade of its community × category in the period it came in (mart_sentiment_code; the period grain is
-- that of the 'complaint' rows of seeds/sentiment_thresholds.csv: week), and is raised by what is true
-- of the complaint itself — overdue, returned, a repeat report from the same address, rated 不满意 —
-- by the levels the seed gives each (rule 'raise'), up to red.

with

thresholds as (
    select * from {{ ref('sentiment_thresholds') }} where grade_level = 'complaint'
),

settings as (
    select
        (select min(period_grain) from thresholds) as base_period_grain,
        (select value from thresholds where component = 'repeat_window_days' and rule = 'parameter')
            as repeat_window_days,
        coalesce((select points from thresholds where component = 'overdue' and rule = 'raise'), 0) as raise_overdue,
        coalesce((select points from thresholds where component = 'returned' and rule = 'raise'), 0) as raise_returned,
        coalesce((select points from thresholds where component = 'repeat_address' and rule = 'raise'), 0)
            as raise_repeat_address,
        coalesce((select points from thresholds where component = 'dissatisfied' and rule = 'raise'), 0)
            as raise_dissatisfied
),

returned as (
    select distinct complaint_id
    from {{ ref('fct_complaint_status_events') }}
    where event_type = 'returned' and event_at < {{ as_of() }}
),

complaints as (
    -- the complaints received by the as-of moment: a later one is graded from its own day on
    select * from {{ ref('fct_complaints') }} where received_at < {{ as_of() }}
),

flagged as (
    select
        complaints.complaint_id,
        complaints.source_channel,
        complaints.received_at,
        complaints.received_date,
        date_trunc(settings.base_period_grain, complaints.received_date)::date as base_period_start,
        complaints.community_id,
        complaints.category_code,
        complaints.category_source,
        complaints.model_category_code,
        complaints.category_needs_review,
        complaints.category_candidates,
        complaints.category_reviewed_by,
        complaints.category_reviewed_at,
        coalesce(complaints.is_overdue, false) as is_overdue,
        returned.complaint_id is not null as is_returned,
        -- the report just before it from the same address and category (the latest earlier one) is
        -- within the window exactly when any earlier one is
        coalesce(complaints.address_key not like '%:?'
            and lag(complaints.received_at) over (
                    partition by complaints.address_key, complaints.category_code
                    order by complaints.received_at, complaints.complaint_id)
                >= complaints.received_at - settings.repeat_window_days * interval '1 day', false) as is_repeat_address,
        coalesce(complaints.satisfaction = 'dissatisfied', false) as is_dissatisfied,
        settings.*
    from complaints
    cross join settings
    left join returned using (complaint_id)
),

based as (
    select
        flagged.*,
        codes.grade as base_grade,
        codes.reasons as base_reasons,
        communities.community_name,
        categories.category_name_zh,
        (case when flagged.is_overdue then flagged.raise_overdue else 0 end
            + case when flagged.is_returned then flagged.raise_returned else 0 end
            + case when flagged.is_repeat_address then flagged.raise_repeat_address else 0 end
            + case when flagged.is_dissatisfied then flagged.raise_dissatisfied else 0 end) as raise_levels
    from flagged
    join {{ ref('mart_sentiment_code') }} as codes
        on codes.period_grain = flagged.base_period_grain
        and codes.grade_level = 'community_category'
        and codes.period_start = flagged.base_period_start
        and codes.community_id = flagged.community_id
        and codes.category_code = flagged.category_code
    join {{ ref('dim_community') }} as communities on communities.community_id = flagged.community_id
    join {{ ref('dim_issue_category') }} as categories on categories.category_code = flagged.category_code
),

leveled as (
    select
        based.*,
        least({{ grade_rank('based.base_grade') }} + based.raise_levels, 3) as level_rank
    from based
)

select
    complaint_id,
    source_channel,
    received_at,
    received_date,
    base_period_grain,
    base_period_start,
    community_id,
    category_code,
    category_source,
    model_category_code,
    category_needs_review,
    category_candidates,
    category_reviewed_by,
    category_reviewed_at,
    base_grade,
    is_overdue,
    is_returned,
    is_repeat_address,
    is_dissatisfied,
    raise_levels::integer as raise_levels,
    {{ grade_of_rank('level_rank') }} as grade,
    level_rank::integer as grade_rank,
    {{ grade_zh(grade_of_rank('level_rank')) }} as grade_zh,
    concat_ws('；',
        community_name || category_name_zh || case base_period_grain when 'week' then '本周' else '本月' end || '为' || {{ grade_zh('base_grade') }} || '（' || base_reasons || '）',
        case when is_overdue and raise_overdue > 0 then '本件超期（+' || raise_overdue || '级）' end,
        case when is_returned and raise_returned > 0 then '本件曾退单（+' || raise_returned || '级）' end,
        case when is_repeat_address and raise_repeat_address > 0
             then '同一楼栋' || {{ reason_number('repeat_window_days', 0) }} || '天内重复反映（+' || raise_repeat_address || '级）' end,
        case when is_dissatisfied and raise_dissatisfied > 0 then '回访不满意（+' || raise_dissatisfied || '级）' end,
        '定为' || {{ grade_zh(grade_of_rank('level_rank')) }}
    ) as reasons
from leveled
