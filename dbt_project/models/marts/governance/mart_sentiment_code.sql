{{ config(pre_hook=hash_joins_only()) }}
-- The sentiment code (六里民情码): a grade red / orange / yellow / green for every community × category
-- (grade_level 'community_category') and every community overall (grade_level 'community',
-- category_code 'all'), per week (Monday to Sunday) and per month, with every figure that produced it.
-- Complaints count in the period of the Beijing day they were received. Thresholds, points, cut-offs
-- and parameters: seeds/sentiment_thresholds.csv. How to reproduce a grade from its row:
--   volume_points         = points of the highest 'volume' tier that volume_ratio reaches, if volume >= volume_min_count
--   volume_ratio          = round(volume / greatest(baseline_volume, baseline_floor), 1), null without a baseline
--   repeat_address_points = tier reached by max_reports_same_address
--   overdue / returned / dissatisfied points = tier reached by overdue_orders / returned_orders / dissatisfied_orders
--   forecast_surge_points = tier reached by forecast_surge_ratio: the latest forecast made in the period
--                           (ops.forecasts, up to the data horizon), sum of expected over sum of baseline
--                           volumes (at least the forecast's baseline_floor); null without a forecast: 0
--   total_points          = the sum; grade_from_points = the highest cut-off at or below it
--   grade                 = grade_from_points; on a community row, worst_category_grade instead when it
--                           is worse and its rank reaches the parameter inherit_category_rank
-- Every threshold is looked up for the row's grade_level and period_grain.
-- Per street (issue 23): a community in its street (dim_community); 'unresolved', which collects the complaints
-- of any street, graded in each street apart, as in macros/governance.sql street_areas. The forecast is per
-- community: an 'unresolved' row of each street reads the same one (settings.yml leaves it out by default).

with

as_of as (
    select {{ as_of() }} as as_of_at
),

thresholds as (
    select * from {{ ref('sentiment_thresholds') }}
),

params as (
    select
        grade_level,
        period_grain,
        max(value) filter (where component = 'baseline_periods') as baseline_periods,
        max(value) filter (where component = 'baseline_min_periods') as baseline_min_periods,
        max(value) filter (where component = 'baseline_floor') as baseline_floor,
        max(value) filter (where component = 'volume_min_count') as volume_min_count,
        max(value) filter (where component = 'include_proactive') as include_proactive,
        max(value) filter (where component = 'inherit_category_rank') as inherit_category_rank
    from thresholds
    where rule = 'parameter' and grade_level in ('community_category', 'community')
    group by grade_level, period_grain
),

daily as (
    -- complaints per day × community × category (fct_daily_complaint_counts), in the week and month of the day
    select 'week' as period_grain, date_trunc('week', received_date)::date as period_start, daily.*
    from {{ ref('fct_daily_complaint_counts') }} as daily
    union all
    select 'month', date_trunc('month', received_date)::date, daily.*
    from {{ ref('fct_daily_complaint_counts') }} as daily
),

counts as (
    select
        daily.period_grain,
        daily.period_start,
        daily.street_id,
        daily.community_id,
        case when grouping(daily.category_code) = 1 then 'all' else daily.category_code end as category_code,
        sum(daily.reports)::bigint as demands,
        sum(daily.proactive_reports)::bigint as proactive_found,
        sum(daily.overdue_reports)::bigint as overdue_orders,
        sum(daily.returned_reports)::bigint as returned_orders,
        sum(daily.satisfaction_visited_reports)::bigint as visited_orders,
        sum(daily.dissatisfied_reports)::bigint as dissatisfied_orders
    from daily
    group by grouping sets (
        (daily.period_grain, daily.period_start, daily.street_id, daily.community_id, daily.category_code),
        (daily.period_grain, daily.period_start, daily.street_id, daily.community_id)
    )
),

address_days as (
    -- reports per day and building or place (fct_daily_reports_by_key), in the week and the month of the day
    select 'week' as period_grain, date_trunc('week', received_date)::date as period_start, daily.*
    from {{ ref('fct_daily_reports_by_key') }} as daily
    where address_key is not null
    union all
    select 'month', date_trunc('month', received_date)::date, daily.*
    from {{ ref('fct_daily_reports_by_key') }} as daily
    where address_key is not null
),

per_address as (
    select
        period_grain,
        period_start,
        street_id,
        community_id,
        case when grouping(category_code) = 1 then 'all' else category_code end as category_code,
        address_key,
        sum(reports) as reports
    from address_days
    group by grouping sets (
        (period_grain, period_start, street_id, community_id, category_code, address_key),
        (period_grain, period_start, street_id, community_id, address_key)
    )
),

addresses as (
    select
        period_grain, period_start, street_id, community_id, category_code,
        max(reports) as max_reports_same_address,
        count(*) filter (where reports > 1) as repeat_addresses
    from per_address
    group by 1, 2, 3, 4, 5
),

bounds as (
    {{ calendar_bounds('select min(received_date) from ' ~ ref('fct_daily_complaint_counts')) }}
),

periods as (
    {{ calendar_periods(['week', 'month']) }}
),

levels as (
    select 'community_category' as grade_level, category_code from {{ ref('dim_issue_category') }}
    union all
    select 'community', 'all'
),

areas as (
    select street_id, community_id from ({{ street_areas('counts') }}) as areas where area_level = 'community'
),

grid as (
    select periods.*, levels.*, areas.street_id, areas.community_id
    from periods
    cross join levels
    cross join areas
),

dense as (
    select
        grid.period_grain,
        grid.period_start,
        grid.period_end,
        grid.period_end <= {{ bj_date('grid.as_of_at') }} as is_complete_period,
        grid.grade_level,
        grid.street_id,
        grid.community_id,
        grid.category_code,
        -- the volume counts complaints; proactive finds only when the seed says so (include_proactive)
        coalesce(counts.demands, 0)
            - case when params.include_proactive = 1 then 0 else coalesce(counts.proactive_found, 0) end as volume,
        coalesce(counts.proactive_found, 0) as proactive_found,
        coalesce(addresses.max_reports_same_address, 0) as max_reports_same_address,
        coalesce(addresses.repeat_addresses, 0) as repeat_addresses,
        {{ zero_filled('counts', ['overdue_orders', 'returned_orders', 'visited_orders', 'dissatisfied_orders']) }}
    from grid
    join params using (grade_level, period_grain)
    left join counts using (period_grain, period_start, street_id, community_id, category_code)
    left join addresses using (period_grain, period_start, street_id, community_id, category_code)
),

sequenced as (
    -- the grid is dense from the first period of the data, so the trailing periods of a row are the
    -- rows before it in its series: running sums instead of a self-join
    select
        dense.*,
        params.baseline_periods::integer as baseline_periods,
        sum(dense.volume) over series as cumulative_volume,
        row_number() over series - 1 as prior_periods
    from dense
    join params using (grade_level, period_grain)
    window series as (partition by dense.period_grain, dense.grade_level, dense.street_id, dense.community_id, dense.category_code
                      order by dense.period_start)
),

baselines as (
    -- the mean volume of the trailing periods inside the data
    select
        sequenced.*,
        least(sequenced.prior_periods, sequenced.baseline_periods) as baseline_periods_used,
        lag(sequenced.cumulative_volume, 1, 0::numeric) over series
            - lag(sequenced.cumulative_volume, sequenced.baseline_periods + 1, 0::numeric) over series as baseline_sum
    from sequenced
    window series as (partition by sequenced.period_grain, sequenced.grade_level, sequenced.street_id, sequenced.community_id,
                      sequenced.category_code order by sequenced.period_start)
),

forecasts as (
    -- the issue forecast (问题预判模型, ops.forecasts): the latest one made in the period, up to the run's
    -- data horizon, expected volume of the days after it against the pair's own baseline
    select forecasts.*
    from {{ ref('stg_forecast__forecasts') }} as forecasts
    cross join bounds
    where forecasts.as_of <= bounds.last_day
),

forecast_in_period as (
    select distinct on (periods.period_grain, periods.period_start, forecasts.community_id)
        periods.period_grain, periods.period_start, forecasts.community_id, forecasts.as_of
    from periods
    join forecasts on forecasts.as_of >= periods.period_start and forecasts.as_of < periods.period_end
    order by periods.period_grain, periods.period_start, forecasts.community_id, forecasts.as_of desc
),

period_forecasts as (
    -- per category, and 'all' of them: two aggregates rather than grouping sets, so that the join below
    -- matches on every key (a category computed from grouping() was a join filter: with the grid
    -- misestimated, the planner merged on the grain alone, 564M comparisons over a city's 300 streets)
    {%- for by_category in [true, false] %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select
        forecast_in_period.period_grain,
        forecast_in_period.period_start,
        forecast_in_period.community_id,
        {{ 'forecasts.category_code' if by_category else "'all'" }} as category_code,
        sum(forecasts.expected_volume) as forecast_volume,
        sum(forecasts.expected_volume) / greatest(sum(forecasts.baseline_volume), max(forecasts.baseline_floor))
            as forecast_ratio
    from forecast_in_period
    join forecasts using (community_id, as_of)
    group by 1, 2, 3{{ ', 4' if by_category else '' }}
    {%- endfor %}
),

figures as (
    select
        baselines.*,
        params.baseline_floor,
        params.volume_min_count,
        params.inherit_category_rank,
        case when baselines.baseline_periods_used >= params.baseline_min_periods and baselines.baseline_periods_used > 0
             then round(baselines.baseline_sum / baselines.baseline_periods_used, 1) end as baseline_volume,
        period_forecasts.forecast_volume as forecast_volume_next_period,
        round(period_forecasts.forecast_ratio, 1) as forecast_surge_ratio
    from baselines
    join params using (grade_level, period_grain)
    left join period_forecasts using (period_grain, period_start, community_id, category_code)
),

ratios as (
    select
        figures.*,
        case when figures.baseline_volume is not null
             then round(figures.volume / greatest(figures.baseline_volume, figures.baseline_floor), 1) end as volume_ratio
    from figures
),

-- materialized, as is graded: inlined, PostgreSQL looks each tier up again wherever the points are used
points as materialized (
    select
        ratios.*,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'volume', 'ratios.volume_ratio') }} as volume_ratio_points,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'repeat_address', 'ratios.max_reports_same_address') }} as repeat_address_points,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'overdue', 'ratios.overdue_orders') }} as overdue_points,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'returned', 'ratios.returned_orders') }} as returned_points,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'dissatisfied', 'ratios.dissatisfied_orders') }} as dissatisfied_points,
        {{ sentiment_points('ratios.grade_level', 'ratios.period_grain', 'forecast_surge', 'ratios.forecast_surge_ratio') }} as forecast_surge_points
    from ratios
),

scored as (
    select
        points.*,
        case when points.volume >= points.volume_min_count then points.volume_ratio_points else 0 end as volume_points
    from points
),

totals as (
    select
        scored.*,
        scored.volume_points + scored.repeat_address_points + scored.overdue_points + scored.returned_points
            + scored.dissatisfied_points + scored.forecast_surge_points as total_points
    from scored
),

graded as materialized (
    select
        totals.*,
        {{ sentiment_grade('totals.grade_level', 'totals.period_grain', 'totals.total_points') }} as grade_from_points
    from totals
),

worst_categories as (
    -- per period and community, the category with the worst grade (then most points, then code):
    -- the first category row of the community's window
    select
        graded.*,
        first_value(case when graded.grade_level = 'community_category' then graded.category_code end) over community_period
            as worst_code_candidate,
        first_value(case when graded.grade_level = 'community_category' then graded.grade_from_points end)
            over community_period as worst_grade_candidate
    from graded
    window community_period as (
        partition by graded.period_grain, graded.period_start, graded.street_id, graded.community_id
        order by (graded.grade_level = 'community_category') desc, {{ grade_rank('graded.grade_from_points') }} desc,
                 graded.total_points desc, graded.category_code
    )
),

final as (
    select
        worst_categories.*,
        case when worst_categories.grade_level = 'community' and {{ grade_rank('worst_grade_candidate') }} > 0
             then worst_code_candidate end as worst_category_code,
        case when worst_categories.grade_level = 'community' then worst_grade_candidate end as worst_category_grade,
        case
            when worst_categories.grade_level = 'community'
                and {{ grade_rank('worst_grade_candidate') }} >= worst_categories.inherit_category_rank
                and {{ grade_rank('worst_grade_candidate') }} > {{ grade_rank('worst_categories.grade_from_points') }}
                then worst_grade_candidate
            else worst_categories.grade_from_points
        end as grade
    from worst_categories
),

worded as (
    select
        final.*,
        case final.period_grain when 'week' then '本周' else '本月' end as period_word,
        worst_names.category_name_zh as worst_category_name
    from final
    left join {{ ref('dim_issue_category') }} as worst_names on worst_names.category_code = final.worst_category_code
)

select
    period_grain,
    period_start,
    period_end,
    is_complete_period,
    grade_level,
    community_id,
    street_id,
    category_code,
    volume::integer as volume,
    proactive_found::integer as proactive_found,
    baseline_periods_used::integer as baseline_periods_used,
    baseline_volume::numeric(10, 1) as baseline_volume,
    volume_ratio::numeric(10, 1) as volume_ratio,
    {{ cast_columns([
        'volume_points', 'max_reports_same_address', 'repeat_addresses', 'repeat_address_points',
        'overdue_orders', 'overdue_points', 'returned_orders', 'returned_points', 'visited_orders',
        'dissatisfied_orders', 'dissatisfied_points'], 'integer') }},
    forecast_volume_next_period::numeric(12, 2) as forecast_volume_next_period,
    forecast_surge_ratio::numeric(10, 1) as forecast_surge_ratio,
    forecast_surge_points::integer as forecast_surge_points,
    total_points::integer as total_points,
    grade_from_points,
    worst_category_code,
    worst_category_grade,
    grade,
    {{ grade_rank('grade') }}::integer as grade_rank,
    {{ grade_zh('grade') }} as grade_zh,
    concat_ws('；',
        period_word || volume || '件，'
            || case
                when baseline_volume is null then '暂无基线（前期数据不足）'
                else '为基线' || {{ reason_number('baseline_volume') }} || '件'
                    || case when baseline_volume < baseline_floor
                            then '（按' || {{ reason_number('baseline_floor') }} || '件计）' else '' end
                    || '的' || {{ reason_number('volume_ratio') }} || '倍'
               end
            || case
                when volume_points > 0 then '（+' || volume_points || '）'
                when volume_ratio_points > 0 then '（不足' || {{ reason_number('volume_min_count', 0) }} || '件，不计分）'
                else ''
               end,
        case when repeat_address_points > 0
             then '同一楼栋重复' || max_reports_same_address || '次（+' || repeat_address_points || '）' end,
        case when overdue_points > 0 then '超期' || overdue_orders || '件（+' || overdue_points || '）' end,
        case when returned_points > 0 then '退单' || returned_orders || '件（+' || returned_points || '）' end,
        case when dissatisfied_points > 0 then '不满意' || dissatisfied_orders || '件（+' || dissatisfied_points || '）' end,
        case when forecast_surge_points > 0
             then '预计下期为基线的' || {{ reason_number('forecast_surge_ratio') }} || '倍（+' || forecast_surge_points || '）' end,
        '计' || total_points || '分，' || {{ grade_zh('grade_from_points') }},
        case when grade is distinct from grade_from_points
             then '类别最高为' || {{ grade_zh('worst_category_grade') }} || '（' || worst_category_name || '），定为'
                  || {{ grade_zh('grade') }} end
    ) as reasons
from worded
