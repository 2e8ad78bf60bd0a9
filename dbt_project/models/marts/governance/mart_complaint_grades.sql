-- 诉求分类定级: one row per complaint with its category (a person's label when there is one, see
-- fct_complaints.category_source) and level. The level starts from the sentiment
-- grade of its community × category in the period it came in (mart_sentiment_code; the period grain is
-- that of the 'complaint' rows of seeds/sentiment_thresholds.csv: week), and is raised by what is true
-- of the complaint itself — overdue, returned, a repeat report from the same address, rated 不满意 —
-- by the levels the seed gives each (rule 'raise'), up to red.
--
-- Incremental: a build grades again only the complaints whose grade may differ since the last one — those
-- fct_complaints rebuilt, the later reports of their address and category, those the as-of moment reached,
-- those of a base grade that changed (macros/grade_scope.sql; these from their own rows, moved out by the
-- pre-hook: only their base differs) — and keeps the others; the result equals a full rebuild. A change of
-- the seeds the grades read rebuilds every row (macros/incremental.sql), as does a table built before street_id.
-- street_id (issue 23): the complaint's (fct_complaints.street_id); its base is its community × category's in
-- that street (mart_sentiment_code grades 'unresolved' in each street apart).
{%- set seeds = ['sentiment_thresholds', 'communities', 'issue_categories'] %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook=["{{ reset_when_settings_change(" ~ seeds ~ ") }}", "{{ prepare_grade_scope(" ~ seeds ~ ") }}"]
             + hash_joins_only(),
    post_hook=["{{ remember_settings(" ~ seeds ~ ") }}", "{{ remember_grade_scope() }}", "{{ ensure_index(['built_at']) }}",
               "{{ ensure_index(['base_period_start', 'community_id', 'category_code']) }}"],
) }}
{%- set whole = grades_whole(seeds) %}
-- depends_on: {{ ref('sentiment_thresholds') }}, {{ ref('communities') }}, {{ ref('issue_categories') }}, {{ ref('fct_complaints') }}, {{ ref('fct_complaint_status_events') }}, {{ ref('mart_sentiment_code') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}, {{ source('ops', 'complaint_grade_scope') }}, {{ source('ops', 'complaint_grade_bases') }}

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

complaints as (
    -- the complaints received by the as-of moment: a later one is graded from its own day on; the repeat
    -- flag found here in a whole build, else by the pre-hook (macros/grade_scope.sql)
    select
        complaints.*,
        {%- if whole %}
        {{ repeat_address_flag('complaints', "(select repeat_window_days from settings) * interval '1 day'") }} as is_repeat_address_found
        {%- else %}
        scope.is_repeat_address as is_repeat_address_found
        {%- endif %}
    from {{ ref('fct_complaints') }} as complaints
    {%- if not whole %}
    join {{ source('ops', 'complaint_grade_scope') }} as scope using (complaint_id)
    {%- endif %}
    where complaints.received_at < {{ as_of() }}
),

returned as (
    select distinct complaint_id
    from {{ ref('fct_complaint_status_events') }}
    where event_type = 'returned' and event_at < {{ as_of() }}
      and complaint_id in (select complaint_id from complaints)
),

flagged as (
    select
        complaints.complaint_id,
        complaints.source_channel,
        complaints.received_at,
        complaints.received_date,
        date_trunc(settings.base_period_grain, complaints.received_date)::date as base_period_start,
        complaints.community_id,
        complaints.street_id,
        complaints.category_code,
        complaints.category_source,
        complaints.model_category_code,
        complaints.category_needs_review,
        complaints.category_candidates,
        complaints.category_reviewed_by,
        complaints.category_reviewed_at,
        coalesce(complaints.is_overdue, false) as is_overdue,
        returned.complaint_id is not null as is_returned,
        complaints.is_repeat_address_found as is_repeat_address,
        coalesce(complaints.satisfaction = 'dissatisfied', false) as is_dissatisfied,
        settings.*
    from complaints
    cross join settings
    left join returned using (complaint_id)
    {%- if not whole %}
    union all
    -- those graded again only for their base grade, moved out by the pre-hook with their flags
    select
        rebased.complaint_id,
        rebased.source_channel,
        rebased.received_at,
        rebased.received_date,
        date_trunc(settings.base_period_grain, rebased.received_date)::date,
        rebased.community_id,
        rebased.street_id,
        rebased.category_code,
        rebased.category_source,
        rebased.model_category_code,
        rebased.category_needs_review,
        rebased.category_candidates,
        rebased.category_reviewed_by,
        rebased.category_reviewed_at,
        rebased.is_overdue,
        rebased.is_returned,
        rebased.is_repeat_address,
        rebased.is_dissatisfied,
        settings.*
    from {{ grades_rebased() }} as rebased
    cross join settings
    {%- endif %}
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
        and codes.street_id = flagged.street_id
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
    street_id,
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
    ) as reasons,
    {{ built_at() }} as built_at
from leveled
