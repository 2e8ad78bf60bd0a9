-- The early warnings of the issue forecast (问题预判预警): the community × category pairs whose expected
-- volume over the coming days is a surge against their own baseline, for the latest forecast only
-- (one row per warning pair), with a Chinese reason and a suggested proactive action (未诉先办).
--
-- The forecast and the warning rule belong to minqing/analytics/forecast.py (settings.yml forecast.early_warning:
-- expected >= margin × baseline and expected >= min_expected). It writes the flag into ops.forecasts
-- with the rule's values; this model only reads the flag, so the rule lives in one place. Built after
-- the forecast step (`minqing forecast`); before the first forecast it is empty. street_id (issue 23): the
-- community's (dim_community); 'unresolved' for the unresolved community (settings.yml forecast
-- exclude_communities leaves it out), which belongs to no street.

with

forecasts as (
    select * from {{ ref('stg_forecast__forecasts') }}
),

latest as (
    select max(as_of) as as_of from forecasts
),

warnings as (
    select forecasts.*
    from forecasts
    join latest using (as_of)
    where forecasts.is_early_warning
),

described as (
    select
        warnings.*,
        (warnings.horizon_end - warnings.horizon_start + 1) as horizon_days,
        communities.community_name,
        coalesce(communities.street_id, 'unresolved') as street_id,
        categories.category_name_zh,
        categories.handling_unit,
        actions.action_zh
    from warnings
    join {{ ref('dim_issue_category') }} as categories using (category_code)
    left join {{ ref('dim_community') }} as communities using (community_id)
    left join {{ ref('proactive_actions') }} as actions using (category_code)
)

select
    as_of,
    community_id,
    street_id,
    community_name,
    category_code,
    category_name_zh,
    horizon_start,
    horizon_end,
    horizon_days::integer as horizon_days,
    expected_volume::numeric(10, 2) as expected_volume,
    baseline_volume::numeric(10, 2) as baseline_volume,
    surge_ratio::numeric(10, 2) as surge_ratio,
    recent_volume::integer as recent_volume,
    trend_ratio::numeric(10, 2) as trend_ratio,
    season_zh,
    handling_unit,
    action_zh as proactive_action_zh,
    '预计未来' || horizon_days || '天' || category_name_zh || {{ reason_number('expected_volume') }} || '件，'
        || '为基线' || {{ reason_number('baseline_volume') }} || '件'
        || case when baseline_volume < baseline_floor
                then '（按' || {{ reason_number('baseline_floor') }} || '件计）' else '' end
        || '的' || {{ reason_number('surge_ratio') }} || '倍'
        || case when season_zh is not null then '（' || season_zh || '）' else '' end as reason,
    warning_margin::numeric(6, 2) as warning_margin,
    min_expected_volume::numeric(8, 2) as min_expected_volume,
    model_version,
    created_at as forecast_created_at
from described
