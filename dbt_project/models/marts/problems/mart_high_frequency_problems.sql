{{ config(pre_hook=hash_joins_only()) }}
-- The high-frequency problem list (高频问题清单): the problems that keep coming back, over rolling windows
-- ending at the as-of day. One row per window length × problem, where a problem is
--   problem_level 'community_category': a community × issue category (address_key null), or
--   problem_level 'address':            one building (address_key, community:building) × category,
-- for every problem with at least one report in the window or in the previous window of the same length
-- (a problem that went quiet stays visible with its fall). Every row carries is_high_frequency; the list
-- itself is `where is_high_frequency order by window_days, problem_level, rank_in_window`.
--
-- Windows: the window_days of seeds/high_frequency_rules.csv (7, 30, 90 in force); a window of w days is
-- the w Beijing days ending at the as-of day (that day included, partial when the as-of moment is inside
-- it); the previous window is the w days before it. Reports count on the day they were received; every
-- channel counts, proactive finds (reception, door-knocking, patrols) included and shown apart.
-- Complaints whose community is unresolved are left out: they are not a place the street can act on.
-- The windows sum the shared daily cells of fct_daily_reports_by_key (day × community × category ×
-- building × complainant), never the complaints themselves. problem_count: the linked problems
-- (fct_problem_reports, issue 19) among the window's reports — five reports of one burst pipe are one.
--
-- How to reproduce a row:
--   repeat_reports     = reports whose building or complainant reported the same problem at least twice in
--                        the window; repeat_share = repeat_reports / report_count
--   is_high_frequency  = report_count >= min_reports and repeat_share >= min_repeat_share (seed, per level
--                        and window)
--   rank_score         = weight_reports × report_count + weight_repeat_reports × repeat_reports
--                        + weight_open_reports × open_count + weight_overdue_open × overdue_open_count
--                        + weight_growth × max(trend_difference, 0)          (weights: the seed, per level/window)
--   rank_in_window     = position within street × window_days × problem_level (each street its own list, issue
--                        23; street_id: the community's, dim_community): high-frequency rows first, then by
--                        rank_score, report_count, problem_id
--   problem_id         = md5(problem_level | community_id | category_code | address_key or '') — the same
--                        problem has the same id in every window, on every day (macros/problems.sql)

{#- a problem: its window, level, community, category and (address level) address -#}
{%- set problem_key = 'window_days, problem_level, community_id, category_code, problem_address_key' %}

with

reports as (
    -- reports per day × community × category × building × complainant (fct_daily_reports_by_key; open
    -- and overdue at the as-of moment)
    select *
    from {{ ref('fct_daily_reports_by_key') }}
    where community_id <> 'unresolved'
),

as_of as (
    select {{ as_of() }} as as_of_at
),

data_start as (
    select min(received_date) as first_day from {{ ref('fct_complaints') }}
),

windows as (
    select distinct window_days::integer as window_days
    from {{ ref('high_frequency_rules') }}
    where setting = 'min_reports' and window_days is not null
),

frames as (
    select
        windows.window_days,
        as_of.as_of_at,
        {{ bj_last_day('as_of.as_of_at') }} as as_of_date,
        {{ bj_last_day('as_of.as_of_at') }} - windows.window_days + 1 as window_start,
        {{ bj_last_day('as_of.as_of_at') }} - 2 * windows.window_days + 1 as previous_window_start,
        data_start.first_day
    from windows
    cross join as_of
    cross join data_start
),

-- the rules in force for each level × window, looked up once (materialized: inlined, PostgreSQL would
-- evaluate each lookup again for every one of a city's problems)
rules as materialized (
    select
        levels.problem_level,
        windows.window_days,
        {{ high_frequency_rule('min_reports', 'levels.problem_level', 'windows.window_days') }} as min_reports,
        {{ high_frequency_rule('min_repeat_share', 'levels.problem_level', 'windows.window_days') }} as min_repeat_share,
        {{ high_frequency_rule('weight_reports', 'levels.problem_level', 'windows.window_days') }} as weight_reports,
        {{ high_frequency_rule('weight_repeat_reports', 'levels.problem_level', 'windows.window_days') }} as weight_repeat_reports,
        {{ high_frequency_rule('weight_open_reports', 'levels.problem_level', 'windows.window_days') }} as weight_open_reports,
        {{ high_frequency_rule('weight_overdue_open', 'levels.problem_level', 'windows.window_days') }} as weight_overdue_open,
        {{ high_frequency_rule('weight_growth', 'levels.problem_level', 'windows.window_days') }} as weight_growth
    from windows
    cross join (values ('community_category'), ('address')) as levels (problem_level)
),

-- the daily cells of the window or the previous window, once per window length
framed as (
    select
        frames.window_days,
        reports.*,
        reports.received_date >= frames.window_start as in_window
    from frames
    join reports on reports.received_date between frames.previous_window_start and frames.as_of_date
),

-- each cell is an occurrence of its community × category and, when it names a building, of that address
-- (problem_address_key '' on community × category rows until the final select, so that joins match)
occurrences as (
    select 'community_category' as problem_level, '' as problem_address_key, framed.*
    from framed
    union all
    select 'address', framed.address_key, framed.*
    from framed
    where framed.address_key is not null
),

-- how often each cell's complainant and building reported the same problem in the window (sums over the
-- window's cells; cells of the previous window get none) ...
windowed as (
    select
        occurrences.*,
        case when in_window and complainant_key is not null then sum(reports) filter (where in_window) over (
            partition by {{ problem_key }}, complainant_key)
        end as complainant_reports,
        case when in_window and address_key is not null then sum(reports) filter (where in_window) over (
            partition by {{ problem_key }}, address_key)
        end as address_reports
    from occurrences
),

-- ... and each problem's figures, its counts and its repeats in one pass (as two aggregates joined, a city's
-- 430,000 problems were hashed and joined again)
counts as (
    select
        {{ problem_key }},
        coalesce(sum(reports) filter (where in_window), 0) as report_count,
        coalesce(sum(reports) filter (where not in_window), 0) as previous_report_count,
        coalesce(sum(proactive_reports) filter (where in_window), 0) as proactive_reports,
        coalesce(sum(open_reports) filter (where in_window), 0) as open_count,
        coalesce(sum(overdue_open_reports) filter (where in_window), 0) as overdue_open_count,
        max(received_date) filter (where in_window) as last_received_date,
        count(distinct complainant_key) filter (where complainant_reports >= 2) as repeat_complainant_count,
        coalesce(sum(reports) filter (where complainant_reports >= 2), 0) as repeat_complainant_reports,
        count(distinct address_key) filter (where address_reports >= 2) as repeat_address_count,
        coalesce(sum(reports) filter (where address_reports >= 2), 0) as repeat_address_reports,
        coalesce(sum(reports) filter (where complainant_reports >= 2 or address_reports >= 2), 0) as repeat_reports
    from windowed
    group by {{ problem_key }}
),

-- the linked problems (fct_problem_reports: the reports of one problem across channels and days, issue 19)
-- with a report in the window, per community × category and per building × category
linked as (
    select
        frames.window_days,
        problem_reports.community_id,
        problem_reports.category_code,
        case when problem_reports.address_key not like '%:?' then problem_reports.address_key end as address_key,
        problem_reports.problem_id
    from frames
    join {{ ref('fct_problem_reports') }} as problem_reports
        on problem_reports.received_date between frames.window_start and frames.as_of_date
    where problem_reports.community_id <> 'unresolved'
),

problem_counts as (
    select window_days, 'community_category' as problem_level, community_id, category_code,
           '' as problem_address_key, count(distinct problem_id) as problem_count
    from linked
    group by window_days, community_id, category_code
    union all
    select window_days, 'address', community_id, category_code, address_key, count(distinct problem_id)
    from linked
    where address_key is not null
    group by window_days, community_id, category_code, address_key
),

figures as (
    select
        counts.*,
        frames.as_of_at,
        frames.as_of_date,
        frames.window_start,
        frames.previous_window_start,
        frames.window_start >= frames.first_day as is_full_window,
        frames.previous_window_start >= frames.first_day as is_previous_window_covered,
        coalesce(problem_counts.problem_count, 0) as problem_count
    from counts
    join frames using (window_days)
    left join problem_counts using ({{ problem_key }})
),

trended as (
    select
        figures.*,
        case when figures.is_previous_window_covered
             then figures.report_count - figures.previous_report_count end as trend_difference,
        case when figures.is_previous_window_covered and figures.previous_report_count > 0
             then round(figures.report_count::numeric / figures.previous_report_count, 2) end as trend_ratio,
        round(figures.repeat_reports::numeric / nullif(figures.report_count, 0), 4) as repeat_share,
        round(figures.open_count::numeric / nullif(figures.report_count, 0), 4) as open_share,
        rules.min_reports,
        rules.min_repeat_share,
        rules.weight_reports,
        rules.weight_repeat_reports,
        rules.weight_open_reports,
        rules.weight_overdue_open,
        rules.weight_growth
    from figures
    join rules using (problem_level, window_days)
),

judged as (
    select
        trended.*,
        coalesce(trended.report_count >= trended.min_reports
                 and trended.repeat_share >= trended.min_repeat_share, false) as is_high_frequency,
        trended.weight_reports * trended.report_count
            + trended.weight_repeat_reports * trended.repeat_reports
            + trended.weight_open_reports * trended.open_count
            + trended.weight_overdue_open * trended.overdue_open_count
            + trended.weight_growth * greatest(coalesce(trended.trend_difference, 0), 0) as rank_score,
        {{ problem_id('trended.problem_level', 'trended.community_id', 'trended.category_code',
                      'trended.problem_address_key') }} as problem_id,
        case when trended.problem_level = 'address'
             then {{ problem_id("'community_category'", 'trended.community_id', 'trended.category_code', 'null') }}
        end as parent_problem_id
    from trended
),

ranked as (
    select
        judged.*,
        communities.street_id,
        row_number() over (
            partition by communities.street_id, judged.window_days, judged.problem_level
            order by judged.is_high_frequency desc, judged.rank_score desc, judged.report_count desc, judged.problem_id
        ) as rank_in_window
    from judged
    join {{ ref('dim_community') }} as communities using (community_id)
)

select
    ranked.problem_id,
    ranked.parent_problem_id,
    ranked.as_of_at,
    ranked.as_of_date,
    ranked.window_days::integer as window_days,
    ranked.window_start,
    ranked.as_of_date as window_end,
    ranked.previous_window_start,
    ranked.is_full_window,
    ranked.is_previous_window_covered,
    ranked.problem_level,
    ranked.community_id,
    ranked.street_id,
    communities.community_name,
    ranked.category_code,
    categories.category_name_zh,
    nullif(ranked.problem_address_key, '') as address_key,
    ranked.report_count::integer as report_count,
    ranked.problem_count::integer as problem_count,
    ranked.proactive_reports::integer as proactive_reports,
    ranked.previous_report_count::integer as previous_report_count,
    ranked.trend_difference::integer as trend_difference,
    ranked.trend_ratio::numeric(10, 2) as trend_ratio,
    ranked.repeat_complainant_count::integer as repeat_complainant_count,
    ranked.repeat_complainant_reports::integer as repeat_complainant_reports,
    case when ranked.problem_level = 'community_category' then ranked.repeat_address_count::integer end
        as repeat_address_count,
    case when ranked.problem_level = 'community_category' then ranked.repeat_address_reports::integer end
        as repeat_address_reports,
    ranked.repeat_reports::integer as repeat_reports,
    ranked.repeat_share::numeric(5, 4) as repeat_share,
    ranked.open_count::integer as open_count,
    ranked.open_share::numeric(5, 4) as open_share,
    ranked.overdue_open_count::integer as overdue_open_count,
    ranked.last_received_date,
    ranked.min_reports::integer as min_reports,
    ranked.min_repeat_share::numeric(5, 4) as min_repeat_share,
    ranked.is_high_frequency,
    ranked.rank_score::numeric(12, 2) as rank_score,
    ranked.rank_in_window::integer as rank_in_window,
    concat_ws('；',
        '近' || ranked.window_days || '天' || ranked.report_count || '件'
            || case
                when not ranked.is_previous_window_covered then '（前' || ranked.window_days || '天数据不全，不比较）'
                else '（前' || ranked.window_days || '天' || ranked.previous_report_count || '件，'
                    || case when ranked.trend_difference >= 0 then '+' else '' end || ranked.trend_difference
                    || coalesce('，' || {{ reason_number('ranked.trend_ratio') }} || '倍', '') || '）'
               end,
        case when ranked.problem_count > 0 and ranked.problem_count < ranked.report_count
             then '合并为' || ranked.problem_count || '个问题' end,
        case when ranked.proactive_reports > 0 then '其中主动发现' || ranked.proactive_reports || '件' end,
        case when ranked.repeat_complainant_count > 0
             then '重复诉求人' || ranked.repeat_complainant_count || '人' || ranked.repeat_complainant_reports || '件' end,
        case when ranked.problem_level = 'community_category' and ranked.repeat_address_count > 0
             then '重复楼栋' || ranked.repeat_address_count || '处' || ranked.repeat_address_reports || '件' end,
        case when ranked.report_count > 0 then '重复占比' || {{ reason_percent('ranked.repeat_share', 0) }} end,
        case when ranked.open_count > 0
             then '未办结' || ranked.open_count || '件'
                  || case when ranked.overdue_open_count > 0 then '（超期' || ranked.overdue_open_count || '件）' else '' end
        end,
        case when ranked.is_high_frequency then '列入高频问题清单'
             else '未达高频标准（需' || ranked.min_reports::integer || '件以上'
                  || case when ranked.min_repeat_share > 0
                          then '且重复占比' || {{ reason_percent('ranked.min_repeat_share', 0) }} || '以上' else '' end
                  || '）'
        end
    ) as reasons
from ranked
left join {{ ref('dim_community') }} as communities using (community_id)
left join {{ ref('dim_issue_category') }} as categories using (category_code)
