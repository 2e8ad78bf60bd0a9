-- One row per month (by the Beijing day the demand was received) × street × area × issue category, zero-filled:
-- area_level 'community' (one row per community of dim_community, in its street; 'unresolved' in each) and
-- 'street' (community_id 'street', each street as a whole: issue 23, a district's streets apart, as
-- mart_three_rates). Counts are sums of the shared daily cells (fct_daily_complaint_counts,
-- fct_daily_reports_by_key); street rows are summed from those cells, not from the community rows: a
-- resident who reports the same category in two communities is a repeat complainant of the street but
-- of neither community. The median handling time does not add up: fct_monthly_handling_hours keeps it per
-- month, read per complaint.

with

as_of as (
    select {{ as_of() }} as as_of_at
),

settings as (
    select
        {{ rate_setting('satisfaction_credit_satisfied') }} as credit_satisfied,
        {{ rate_setting('satisfaction_credit_basically_satisfied') }} as credit_basically_satisfied,
        {{ rate_setting('satisfaction_credit_dissatisfied') }} as credit_dissatisfied
),

daily as (
    -- complaints per day × community × category (fct_daily_complaint_counts), by month
    select date_trunc('month', received_date)::date as month_start, daily.*
    from {{ ref('fct_daily_complaint_counts') }} as daily
),

volumes as (
    select
        month_start,
        category_code,
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        {{ summed_daily_counts([
            'received', 'proactive', 'overdue', 'resolution_visited', 'resolved', 'satisfaction_visited',
            'satisfied', 'basically_satisfied', 'dissatisfied'], 'count') }}
    from daily
    group by grouping sets ((month_start, category_code, street_id, community_id), (month_start, category_code, street_id))
),

-- a median does not add up: kept per month by fct_monthly_handling_hours, from each complaint
handling as (
    select month_start, category_code, street_id, community_id, closed_with_time_count, median_handling_hours
    from {{ ref('fct_monthly_handling_hours') }}
),

{#- repeats: a building or place, or a complainant, with more than one report of the category in
    the month, per community and street-wide: the daily cells of fct_daily_reports_by_key summed -#}
{%- for name in ['address', 'complainant'] %}
per_{{ name }} as (
    select
        month_start,
        category_code,
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        {{ name }}_key,
        sum(reports) as reports
    from (
        select date_trunc('month', received_date)::date as month_start, street_id, community_id, category_code, {{ name }}_key, reports
        from {{ ref('fct_daily_reports_by_key') }}
        where {{ name }}_key is not null
    ) as daily
    group by grouping sets ((month_start, category_code, street_id, community_id, {{ name }}_key),
                            (month_start, category_code, street_id, {{ name }}_key))
),

repeat_{{ name }}_totals as (
    select
        month_start, category_code, street_id, community_id,
        count(*) filter (where reports > 1) as repeat_{{ name }}_count,
        coalesce(sum(reports) filter (where reports > 1), 0) as repeat_{{ name }}_reports
    from per_{{ name }}
    group by 1, 2, 3, 4
),
{% endfor %}
bounds as (
    {{ calendar_bounds('select min(month_start) from daily') }}
),

months as (
    select period_start as month_start, period_end as month_end, as_of_at
    from ({{ calendar_periods(['month']) }}) as periods
),

areas as (
    {{ street_areas('volumes') }}
),

grid as (
    select months.*, areas.*, categories.category_code
    from months
    cross join areas
    cross join {{ ref('dim_issue_category') }} as categories
),

joined as (
    select
        grid.month_start,
        grid.month_end <= {{ bj_date('grid.as_of_at') }} as is_complete_month,
        grid.area_level,
        grid.street_id,
        grid.community_id,
        grid.category_code,
        coalesce(volumes.received_count, 0) as received_count,
        coalesce(volumes.proactive_count, 0) as proactive_count,
        coalesce(repeat_addresses.repeat_address_count, 0) as repeat_address_count,
        coalesce(repeat_addresses.repeat_address_reports, 0) as repeat_address_reports,
        coalesce(repeat_complainants.repeat_complainant_count, 0) as repeat_complainant_count,
        coalesce(repeat_complainants.repeat_complainant_reports, 0) as repeat_complainant_reports,
        coalesce(volumes.overdue_count, 0) as overdue_count,
        coalesce(handling.closed_with_time_count, 0) as closed_with_time_count,
        handling.median_handling_hours,
        {{ zero_filled('volumes', [
            'resolution_visited_count', 'resolved_count', 'satisfaction_visited_count',
            'satisfied_count', 'basically_satisfied_count', 'dissatisfied_count']) }}
    from grid
    left join volumes using (month_start, category_code, street_id, community_id)
    left join handling using (month_start, category_code, street_id, community_id)
    left join repeat_address_totals as repeat_addresses using (month_start, category_code, street_id, community_id)
    left join repeat_complainant_totals as repeat_complainants using (month_start, category_code, street_id, community_id)
)

select
    joined.month_start,
    joined.is_complete_month,
    joined.area_level,
    joined.community_id,
    joined.street_id,
    joined.category_code,
    joined.received_count::integer as received_count,
    joined.proactive_count::integer as proactive_count,
    joined.repeat_address_count::integer as repeat_address_count,
    joined.repeat_address_reports::integer as repeat_address_reports,
    joined.repeat_complainant_count::integer as repeat_complainant_count,
    joined.repeat_complainant_reports::integer as repeat_complainant_reports,
    joined.overdue_count::integer as overdue_count,
    joined.closed_with_time_count::integer as closed_with_time_count,
    round(joined.median_handling_hours::numeric, 2)::numeric(10, 2) as median_handling_hours,
    joined.resolution_visited_count::integer as resolution_visited_count,
    joined.resolved_count::integer as resolved_count,
    round(joined.resolved_count::numeric / nullif(joined.resolution_visited_count, 0), 4)::numeric(5, 4) as resolution_rate,
    joined.satisfaction_visited_count::integer as satisfaction_visited_count,
    joined.satisfied_count::integer as satisfied_count,
    joined.basically_satisfied_count::integer as basically_satisfied_count,
    joined.dissatisfied_count::integer as dissatisfied_count,
    (joined.satisfied_count * settings.credit_satisfied
        + joined.basically_satisfied_count * settings.credit_basically_satisfied
        + joined.dissatisfied_count * settings.credit_dissatisfied)::numeric(14, 4) as satisfaction_points,
    round((joined.satisfied_count * settings.credit_satisfied
        + joined.basically_satisfied_count * settings.credit_basically_satisfied
        + joined.dissatisfied_count * settings.credit_dissatisfied)
        / nullif(joined.satisfaction_visited_count, 0), 4)::numeric(5, 4) as satisfaction_rate
from joined
cross join settings
