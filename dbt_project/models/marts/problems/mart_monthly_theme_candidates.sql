-- Candidates for 每月一题 (the city's monthly theme of two or three high-frequency problems): for every month
-- from the first demand to the as-of month, the top candidates of two kinds (candidate_level), each ranked
-- on its own:
--   'community_category': a community × issue category (one community's own problem), and
--   'street_category':    an issue category over the whole street (community_id 'street').
-- The month's figures are mart_issue_category_monthly's (whose street rows are recomputed from the demands,
-- not summed: a complainant repeating across communities is a repeat complainant of the street only); a
-- street row always outweighs its own community rows on volume, so the two levels are ranked apart and the
-- mart keeps top_n of each.
--
-- Per street (issue 23): each street has its own candidates (a community in its street, street rows per
-- street), ranked and scored among its street's own; a street_category candidate's problem_id names its
-- street (md5(level|street_id|category|)), so that two streets' candidates of a category are two problems.
--
-- Figures of the month (the Beijing month the demand was received; every channel, proactive finds
-- included and shown apart; overdue as of the run): volume, share of the street's volume, growth against
-- the mean of the previous baseline_months months inside the data, repeat complainants and repeat
-- buildings (2+ reports in the month), 不满意 verdicts, overdue demands, communities affected (street rows).
--
-- Score (seeds/monthly_theme_weights.csv; a row naming the level wins over a blank one):
--   a candidate needs volume >= min_volume; among the month's candidates of the same level, each part is
--   the candidate's figure over the largest such figure (0 when that is 0), rounded to 4 decimals:
--     volume_part, growth_part (figure: least(growth_ratio, growth_ratio_cap) − 1, at least 0; 0 without
--     growth), repeat_complainant_part, repeat_address_part, dissatisfied_part, overdue_part,
--     communities_part (street rows; 0 on community rows)
--   score = Σ weight_<part> × part, rounded to 4 decimals (tests/assert_monthly_theme_score_reproducible.sql)
--   candidate_rank = position by score, then volume, community, category; rows with rank <= top_n are kept.

with

as_of as (
    select as_of_at, {{ bj_last_day('as_of_at') }} as as_of_date
    from (select {{ as_of() }} as as_of_at) as moment
),

monthly as (
    -- the month's figures per community × category and street-wide, zero-filled from the first month of
    -- the data: mart_issue_category_monthly (the 'unresolved' community is no candidate)
    select * from {{ ref('mart_issue_category_monthly') }}
    where community_id <> 'unresolved'
),

street_totals as (
    select month_start, street_id, sum(received_count) as street_volume
    from monthly
    where area_level = 'street'
    group by month_start, street_id
),

communities_affected as (
    select
        date_trunc('month', received_date)::date as month_start,
        street_id,
        category_code,
        count(distinct community_id) filter (where community_id <> 'unresolved') as communities_affected
    from {{ ref('fct_daily_complaint_counts') }}
    group by 1, 2, 3
),

-- the linked problems (fct_problem_reports, issue 19) with a report in the month, per community × category
-- and street-wide: the month's reports of one problem count once
month_problems as (
    select
        date_trunc('month', received_date)::date as month_start,
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        category_code,
        count(distinct problem_id) as problem_count
    from {{ ref('fct_problem_reports') }}
    where community_id <> 'unresolved'
    group by grouping sets ((date_trunc('month', received_date), street_id, community_id, category_code),
                            (date_trunc('month', received_date), street_id, category_code))
),

-- every month × area × category, so that a quiet month counts as 0 in the baseline
dense as (
    select
        monthly.month_start,
        monthly.is_complete_month,
        as_of.as_of_date,
        case monthly.area_level when 'street' then 'street_category' else 'community_category' end as candidate_level,
        monthly.community_id,
        monthly.street_id,
        monthly.category_code,
        monthly.received_count as volume,
        coalesce(month_problems.problem_count, 0) as problem_count,
        monthly.proactive_count,
        street_totals.street_volume,
        monthly.repeat_complainant_count,
        monthly.repeat_address_count,
        monthly.dissatisfied_count,
        monthly.overdue_count,
        case when monthly.area_level = 'street' then coalesce(affected.communities_affected, 0) end
            as communities_affected
    from monthly
    cross join as_of
    join street_totals using (month_start, street_id)
    left join communities_affected as affected using (month_start, street_id, category_code)
    left join month_problems using (month_start, street_id, community_id, category_code)
),

settings as (
    select
        levels.candidate_level,
        {{ theme_setting('top_n', 'levels.candidate_level') }} as top_n,
        {{ theme_setting('min_volume', 'levels.candidate_level') }} as min_volume,
        {{ theme_setting('baseline_months', 'levels.candidate_level') }} as baseline_months,
        {{ theme_setting('baseline_floor', 'levels.candidate_level') }} as baseline_floor,
        {{ theme_setting('growth_ratio_cap', 'levels.candidate_level') }} as growth_ratio_cap
        {%- for part, weight in theme_score_parts() %},
        {{ theme_setting(weight, 'levels.candidate_level') }} as {{ weight }}
        {%- endfor %}
    from (values ('community_category'), ('street_category')) as levels (candidate_level)
),

baselines as (
    -- the mean volume of the months before, inside the data (the dense grid starts with the data)
    select
        current_month.month_start,
        current_month.candidate_level,
        current_month.community_id,
        current_month.street_id,
        current_month.category_code,
        count(prior.month_start) as baseline_months_used,
        avg(prior.volume) as baseline_mean
    from dense as current_month
    join settings using (candidate_level)
    left join dense as prior
        on prior.candidate_level = current_month.candidate_level
        and prior.community_id = current_month.community_id
        and prior.street_id = current_month.street_id
        and prior.category_code = current_month.category_code
        and prior.month_start < current_month.month_start
        and prior.month_start >= (current_month.month_start - settings.baseline_months * interval '1 month')::date
    group by 1, 2, 3, 4, 5
),

candidates as (
    select
        dense.*,
        settings.top_n,
        settings.min_volume,
        settings.baseline_floor,
        settings.growth_ratio_cap,
        {%- for part, weight in theme_score_parts() %}
        settings.{{ weight }},
        {%- endfor %}
        baselines.baseline_months_used,
        round(baselines.baseline_mean, 1) as baseline_volume,
        round(dense.volume::numeric / nullif(dense.street_volume, 0), 4) as volume_share,
        case when baselines.baseline_months_used > 0
             then round(dense.volume::numeric / greatest(baselines.baseline_mean, settings.baseline_floor), 2) end as growth_ratio
    from dense
    join settings using (candidate_level)
    join baselines using (month_start, candidate_level, community_id, street_id, category_code)
    where dense.volume >= settings.min_volume
),

figures as (
    select
        candidates.*,
        greatest(least(coalesce(candidates.growth_ratio, 1), candidates.growth_ratio_cap) - 1, 0) as growth_excess
    from candidates
),

parts as (
    select
        figures.*,
        coalesce(round(figures.volume::numeric
            / nullif(max(figures.volume) over level_month, 0), 4), 0) as volume_part,
        coalesce(round(figures.growth_excess
            / nullif(max(figures.growth_excess) over level_month, 0), 4), 0) as growth_part,
        coalesce(round(figures.repeat_complainant_count::numeric
            / nullif(max(figures.repeat_complainant_count) over level_month, 0), 4), 0) as repeat_complainant_part,
        coalesce(round(figures.repeat_address_count::numeric
            / nullif(max(figures.repeat_address_count) over level_month, 0), 4), 0) as repeat_address_part,
        coalesce(round(figures.dissatisfied_count::numeric
            / nullif(max(figures.dissatisfied_count) over level_month, 0), 4), 0) as dissatisfied_part,
        coalesce(round(figures.overdue_count::numeric
            / nullif(max(figures.overdue_count) over level_month, 0), 4), 0) as overdue_part,
        coalesce(round(figures.communities_affected::numeric
            / nullif(max(figures.communities_affected) over level_month, 0), 4), 0) as communities_part
    from figures
    window level_month as (partition by figures.month_start, figures.street_id, figures.candidate_level)
),

scored as (
    select
        parts.*,
        round(
            {%- for part, weight in theme_score_parts() %}
            {% if not loop.first %}+ {% endif %}parts.{{ weight }} * parts.{{ part }}
            {%- endfor %}, 4) as score
    from parts
),

ranked as (
    select
        scored.*,
        row_number() over (
            partition by scored.month_start, scored.street_id, scored.candidate_level
            order by scored.score desc, scored.volume desc, scored.community_id, scored.category_code
        ) as candidate_rank
    from scored
)

select
    ranked.month_start,
    ranked.is_complete_month,
    ranked.candidate_level,
    {{ problem_id('ranked.candidate_level',
                  "case when ranked.candidate_level = 'street_category' then ranked.street_id else ranked.community_id end",
                  'ranked.category_code', 'null') }} as problem_id,
    ranked.community_id,
    ranked.street_id,
    case when ranked.candidate_level = 'street_category' then '全街道' else communities.community_name end
        as community_name,
    ranked.category_code,
    categories.category_name_zh,
    ranked.candidate_rank::integer as candidate_rank,
    ranked.score::numeric(6, 4) as score,
    ranked.volume::integer as volume,
    ranked.problem_count::integer as problem_count,
    ranked.proactive_count::integer as proactive_count,
    ranked.street_volume::integer as street_volume,
    ranked.volume_share::numeric(5, 4) as volume_share,
    ranked.baseline_months_used::integer as baseline_months_used,
    ranked.baseline_volume::numeric(10, 1) as baseline_volume,
    ranked.growth_ratio::numeric(10, 2) as growth_ratio,
    ranked.repeat_complainant_count::integer as repeat_complainant_count,
    ranked.repeat_address_count::integer as repeat_address_count,
    ranked.dissatisfied_count::integer as dissatisfied_count,
    ranked.overdue_count::integer as overdue_count,
    ranked.communities_affected::integer as communities_affected,
    ranked.volume_part::numeric(5, 4) as volume_part,
    ranked.growth_part::numeric(5, 4) as growth_part,
    ranked.repeat_complainant_part::numeric(5, 4) as repeat_complainant_part,
    ranked.repeat_address_part::numeric(5, 4) as repeat_address_part,
    ranked.dissatisfied_part::numeric(5, 4) as dissatisfied_part,
    ranked.overdue_part::numeric(5, 4) as overdue_part,
    ranked.communities_part::numeric(5, 4) as communities_part,
    concat_ws('；',
        extract(month from ranked.month_start)::integer || '月'
            || case when ranked.candidate_level = 'community_category' then communities.community_name else '' end
            || categories.category_name_zh || ranked.volume || '件'
            || case when ranked.is_complete_month then '' else '（截至' || to_char(ranked.as_of_date, 'FMMM月FMDD日') || '）' end
            || '，占全街道' || {{ reason_percent('ranked.volume_share') }}
            || case
                when ranked.growth_ratio is null then '，此前无数据可比'
                else '，为前' || ranked.baseline_months_used || '个月均值' || {{ reason_number('ranked.baseline_volume') }} || '件'
                    || case when ranked.baseline_volume < ranked.baseline_floor
                            then '（按' || {{ reason_number('ranked.baseline_floor', 0) }} || '件计）' else '' end
                    || '的' || {{ reason_number('ranked.growth_ratio') }} || '倍'
               end,
        case when ranked.problem_count > 0 and ranked.problem_count < ranked.volume
             then '合并为' || ranked.problem_count || '个问题' end,
        case when ranked.candidate_level = 'street_category' then '涉及' || ranked.communities_affected || '个社区' end,
        case when ranked.repeat_complainant_count > 0 then '重复诉求人' || ranked.repeat_complainant_count || '人' end,
        case when ranked.repeat_address_count > 0 then '重复楼栋' || ranked.repeat_address_count || '处' end,
        case when ranked.dissatisfied_count > 0 then '不满意' || ranked.dissatisfied_count || '件' end,
        case when ranked.overdue_count > 0 then '超期' || ranked.overdue_count || '件' end,
        case when ranked.proactive_count > 0 then '其中主动发现' || ranked.proactive_count || '件' end,
        '得分' || {{ reason_number('ranked.score', 2) }} || '，第' || ranked.candidate_rank || '名'
    ) as reasons
from ranked
left join {{ ref('dim_community') }} as communities using (community_id)
left join {{ ref('dim_issue_category') }} as categories using (category_code)
where ranked.candidate_rank <= ranked.top_n
