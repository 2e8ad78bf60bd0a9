{{
    config(
        materialized='incremental',
        unique_key='briefing_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        full_refresh=false
    )
}}
-- The daily dispatch briefing (每日调度简报): every figure the street complaint center's morning meeting
-- works through, for the meeting on briefing_date = the day after the data day (the run's last day).
-- One long table, one row per figure or listed item, by section (seeds/briefing_labels.csv):
--   summary                yesterday's totals, with the day before as previous_value; problems_received
--                          counts the distinct problems (fct_problem_reports) among the demands received
--   received_by_channel / _community / _category   yesterday's demands, with the day before
--   volume_trend           demands per channel per day over trend_days (zero-filled), for the chart
--   category_heatmap       complaints per community × category over heatmap_days, for the heat map
--   three_rates            the three rates and composite score, month to date against last month (a
--                          street's: its own, as mart_street_ranking ranks it; the district's: its streets'
--                          orders together)
--   repeat_problem         一题多件: problems with a report on the data day and 2 or more reports in all,
--                          most reports first (value: reports so far; previous_value: those of the data day)
--   overdue_order          open orders past their time limit at the data horizon, most overdue first
--   returned_order         orders returned (退单) on the data day
--   sentiment_rise         communities whose weekly sentiment code (民情码) is worse than last week's
--   early_warning          the issue forecast's warnings for the coming days (rpt_early_warnings)
--   data_notice            every delivery of the data day or the day before that is missing, late,
--                          held back or pending (mart_delivery_status), one line per channel and status
-- A channel's figures of a day whose deliveries are not all in carry is_incomplete; a day when
-- nothing of an expected channel came in shows no figure (null), never 0.
-- Windows and limits: seeds/briefing_settings.csv. `minqing briefing` renders these rows only.
-- Whose briefing (issue 23): every day holds the district's rows (street_id null: every street of the
-- warehouse together, as the briefing was before it had a street_id, so that the days archived before
-- then read as the district's) and a set of rows per street of dim_street (its own meeting: every section
-- of its complaints, orders, communities and deliveries alone; its three rates are mart_street_ranking's).
-- A figure gets the district's row from the same aggregate, `group by ..., rollup (street_id)`; a listed
-- item is on its street's list and on the district's (macros/briefing.sql). Records whose street is
-- 'unresolved' count in the district's briefing only: no meeting is held for them.
-- Incremental by briefing_date: each run (re)writes its own day's briefing and keeps every earlier
-- one as it was published. full_refresh=false: `minqing rebuild` (dbt build --full-refresh) keeps
-- the archive too; only dropping the table by hand loses it.

with

as_of as (
    -- the run's own day (a backfill writes the briefing of its day, as of that day)
    select {{ run_as_of() }} as as_of_at
),

days as (
    select
        as_of.as_of_at,
        {{ bj_last_day('as_of.as_of_at') }} as data_date,
        {{ bj_last_day('as_of.as_of_at') }} + 1 as briefing_date
    from as_of
),

settings as (
    select
        max(value) filter (where setting = 'trend_days')::integer as trend_days,
        max(value) filter (where setting = 'heatmap_days')::integer as heatmap_days,
        max(value) filter (where setting = 'overdue_list_limit')::integer as overdue_list_limit,
        max(value) filter (where setting = 'repeat_problem_list_limit')::integer as repeat_problem_list_limit
    from {{ ref('briefing_settings') }}
),

labels as (
    select * from {{ ref('briefing_labels') }}
),

scopes as (
    -- the district's briefing (street_id null) and each street's
    select null::text as street_id
    union all
    select street_id from {{ ref('dim_street') }} where street_id <> 'unresolved'
),

communities as (
    select community_id, community_name from {{ ref('dim_community') }}
),

categories as (
    select category_code, category_name_zh, handling_unit from {{ ref('dim_issue_category') }}
),

methods as (
    -- the Chinese name of a proactive method (日常巡查, 敲门行动, 民意接待日), one per code
    select method_code, min(method_name_zh) as method_name_zh
    from {{ ref('reception_methods') }}
    group by method_code
),

daily as (
    select daily.*
    from {{ ref('fct_community_category_daily') }} as daily
    cross join days
    cross join settings
    where daily.date_day between days.data_date - greatest(settings.trend_days, settings.heatmap_days, 2) + 1
                             and days.data_date
),

-- per source channel and day: are all its expected deliveries in (complete), is any (any_in)?
-- A channel without expected deliveries in the seed is complete. A street's: the deliveries of its rows in
-- mart_delivery_status (its communities', its own exports, the warehouse-wide ones); the district's: all.
delivery_days as (
    select
        street_id,
        source_channel,
        covers_day as date_day,
        bool_and(is_complete) as complete,
        bool_or(is_complete) as any_in
    from {{ ref('mart_delivery_status') }}
    group by source_channel, covers_day, rollup (street_id)
),

day_completeness as (
    select street_id, date_day, bool_and(complete) as complete
    from delivery_days
    group by street_id, date_day
),

notices as (
    select
        status.street_id,
        status.source_channel,
        status.status,
        min(status.sort_order) as sort_order,
        min(status.period_start) as period_start,
        -- a delivery of no community is a row of each street (mart_delivery_status): counted once
        count(distinct (status.delivery_id, status.covers_day)) as deliveries,
        {{ delivery_notice("coalesce(string_agg(distinct status.community_name, '、') || ' ', '') || min(status.source_channel_zh)",
                           'status.status', 'min(status.status_zh)', 'min(status.cadence)', 'min(status.period_start)',
                           'min(status.due_at)', 'min(status.first_landed_at)', 'min(status.held_reason)') }} as detail_zh
    from {{ ref('mart_delivery_status') }} as status
    cross join days
    where status.covers_day between days.data_date - 1 and days.data_date and status.status <> 'arrived'
    group by status.source_channel, status.status, status.period_start, rollup (status.street_id)
),

-- demands received per day and channel, one row per channel and day (the chart and the channel table)
channel_days as (
    {%- for channel in intake_channels() %}
    select street_id, date_day, '{{ channel }}' as source_channel, sum(received_{{ channel }}) as received
    from daily group by date_day, rollup (street_id)
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

channel_series as (
    select
        scopes.street_id,
        series.series_date::date as series_date,
        channels.code as source_channel,
        channels.sort_order,
        -- nothing of an expected channel came in that day (no delivery in, no record of the day from
        -- another file): no figure, not 0
        case when delivery_days.any_in is false and coalesce(channel_days.received, 0) = 0 then null
             else coalesce(channel_days.received, 0) end as received,
        coalesce(not delivery_days.complete, false) as is_incomplete
    from scopes
    cross join days
    cross join settings
    cross join lateral generate_series(days.data_date - settings.trend_days + 1, days.data_date, interval '1 day') as series (series_date)
    cross join (select code, sort_order from labels where kind = 'channel') as channels
    left join channel_days
        on {{ same_scope('channel_days', 'scopes') }}
        and channel_days.date_day = series.series_date::date and channel_days.source_channel = channels.code
    left join delivery_days
        on {{ same_scope('delivery_days', 'scopes') }}
        and delivery_days.date_day = series.series_date::date and delivery_days.source_channel = channels.code
),

day_totals as (
    select
        street_id,
        date_day,
        sum(received_total) as received,
        sum(received_total - received_proactive) as complaints,
        sum(received_proactive) as proactive_found
    from daily
    group by date_day, rollup (street_id)
),

returned_events as (
    select
        events.complaint_id,
        events.street_id,  -- the complaint's (an event follows its complaint)
        min(events.event_at) as returned_at,
        {{ bj_date('min(events.event_at)') }} as returned_date
    from {{ ref('fct_complaint_status_events') }} as events
    cross join days
    where events.event_type = 'returned'
      and events.event_at >= {{ bj_day_start('days.data_date - 1') }}
      and events.event_at < {{ bj_day_start('days.data_date + 1') }}
    group by events.complaint_id, events.street_id, {{ bj_date('events.event_at') }}
),

overdue_open as (
    select
        complaints.*,
        extract(epoch from (days.as_of_at - complaints.due_at)) / 3600.0 as overdue_hours
    from {{ ref('fct_complaints') }} as complaints
    cross join days
    -- open at the as-of moment: received by then and not closed by then (a backfill sees the day as it was)
    where complaints.received_at < days.as_of_at
      and complaints.due_at < days.as_of_at
      and (complaints.closed_at is null or complaints.closed_at > days.as_of_at)
      and (complaints.status <> 'cancelled' or complaints.last_updated_at > days.as_of_at)
      and (complaints.status <> 'closed' or complaints.closed_at > days.as_of_at)
),

-- the problems (the link stage's, fct_problem_reports) with a report on the data day or the day before:
-- the only ones the briefing reads, so a build does not aggregate every problem ever linked
day_problems as (
    select distinct reports.problem_id
    from {{ ref('fct_problem_reports') }} as reports
    cross join days
    where reports.received_date between days.data_date - 1 and days.data_date
),

-- their reports received by the data day, open or not at the as-of moment as overdue_open reads it: a
-- backfill lists a problem as it stood that day, not with the reports and closings that came after
problem_reports as (
    select
        reports.problem_id,
        reports.complaint_id,
        reports.street_id,
        reports.report_number,
        reports.source_channel,
        reports.received_at,
        reports.received_date,
        reports.community_id,
        reports.category_code,
        reports.is_proactive,
        reports.proactive_method,
        complaints.complainant_key,
        (complaints.closed_at is null or complaints.closed_at > days.as_of_at)
            and (complaints.status <> 'cancelled' or complaints.last_updated_at > days.as_of_at)
            and (complaints.status <> 'closed' or complaints.closed_at > days.as_of_at) as is_open,
        complaints.closed_at <= days.as_of_at as is_closed
    from {{ ref('fct_problem_reports') }} as reports
    join day_problems using (problem_id)
    join {{ ref('fct_complaints') }} as complaints using (complaint_id)
    cross join days
    where reports.received_date <= days.data_date
),

problem_days as (
    select street_id, received_date as date_day, count(distinct problem_id) as problems
    from problem_reports
    cross join days
    where received_date >= days.data_date - 1
    group by received_date, rollup (street_id)
),

repeat_problems as (
    select
        problem_id,
        count(*) as report_count,
        count(*) filter (where received_date = days.data_date) as day_report_count,
        count(distinct complainant_key) as complainant_count,
        count(*) filter (where is_open) as open_report_count,
        count(*) filter (where is_closed) as closed_report_count
    from problem_reports
    cross join days
    group by problem_id
    having count(*) filter (where received_date = days.data_date) > 0 and count(*) >= 2
),

-- the channels a repeat problem came in through, in the briefing's channel order (12345热线、接待日)
repeat_problem_channels as (
    select
        used.problem_id,
        string_agg(coalesce(channel_labels.label_zh, used.source_channel), '、'
                   order by channel_labels.sort_order, used.source_channel) as channels_zh
    from (
        select distinct problem_reports.problem_id, problem_reports.source_channel
        from problem_reports
        join repeat_problems using (problem_id)
    ) as used
    left join labels as channel_labels on channel_labels.kind = 'channel' and channel_labels.code = used.source_channel
    group by used.problem_id
),

-- a repeat problem is its first report's street's (and the district's)
repeat_problems_ranked as (
    select
        scope.scope_street_id,
        repeat_problems.*,
        first_reports.complaint_id as first_complaint_id,
        first_reports.source_channel as first_channel,
        first_reports.received_date as first_received_date,
        first_reports.community_id,
        first_reports.category_code,
        -- who reported it first: the proactive method (日常巡查) when the street's rounds found it, else the channel
        coalesce(case when first_reports.is_proactive then methods.method_name_zh end,
                 channel_labels.label_zh, first_reports.source_channel) as first_by_zh,
        repeat_problem_channels.channels_zh,
        row_number() over (partition by scope.scope_street_id
                           order by repeat_problems.report_count desc, repeat_problems.problem_id)::integer as item_rank
    from repeat_problems
    join problem_reports as first_reports
        on first_reports.problem_id = repeat_problems.problem_id and first_reports.report_number = 1
    {{ in_its_street_and_the_district('first_reports.street_id') }}
    join repeat_problem_channels on repeat_problem_channels.problem_id = repeat_problems.problem_id
    left join methods on methods.method_code = first_reports.proactive_method
    left join labels as channel_labels
        on channel_labels.kind = 'channel' and channel_labels.code = first_reports.source_channel
),

warnings as (
    -- the latest forecast's warnings (rpt_early_warnings holds the latest only), if made by the data day
    select warnings.*
    from {{ ref('rpt_early_warnings') }} as warnings
    cross join days
    where warnings.as_of <= days.data_date
),

-- the summary's counts of listed things, per scope
listed_counts as (
    select street_id, 'overdue_open' as metric, count(*) as value, null::bigint as previous_value
    from overdue_open group by rollup (street_id)
    union all
    select returned_events.street_id, 'returned',
           count(*) filter (where returned_events.returned_date = days.data_date),
           count(*) filter (where returned_events.returned_date = days.data_date - 1)
    from returned_events cross join days group by rollup (returned_events.street_id)
    union all
    select street_id, 'early_warnings', count(*), null from warnings group by rollup (street_id)
),

summary as (
    select scopes.street_id, figures.metric, figures.value, figures.previous_value
    from scopes
    cross join days
    left join day_totals as today on {{ same_scope('today', 'scopes') }} and today.date_day = days.data_date
    left join day_totals as yesterday on {{ same_scope('yesterday', 'scopes') }} and yesterday.date_day = days.data_date - 1
    left join problem_days as today_problems
        on {{ same_scope('today_problems', 'scopes') }} and today_problems.date_day = days.data_date
    left join problem_days as yesterday_problems
        on {{ same_scope('yesterday_problems', 'scopes') }} and yesterday_problems.date_day = days.data_date - 1
    cross join lateral (values
        ('received', today.received, yesterday.received),
        -- the same demands as problems: the reports of one problem received that day count once
        -- (no figure where received has none)
        ('problems_received',
         case when today.received is not null then coalesce(today_problems.problems, 0) end,
         case when yesterday.received is not null then coalesce(yesterday_problems.problems, 0) end),
        ('complaints', today.complaints, yesterday.complaints),
        ('proactive_found', today.proactive_found, yesterday.proactive_found),
        ('proactive_share',
         round(today.proactive_found::numeric / nullif(today.received, 0), 4),
         round(yesterday.proactive_found::numeric / nullif(yesterday.received, 0), 4))
    ) as figures (metric, value, previous_value)
    union all
    -- no order overdue or returned, no warning: 0
    select scopes.street_id, metrics.metric, coalesce(listed_counts.value, 0),
           case when metrics.metric = 'returned' then coalesce(listed_counts.previous_value, 0) end
    from scopes
    cross join (values ('overdue_open'), ('returned'), ('early_warnings')) as metrics (metric)
    left join listed_counts on {{ same_scope('listed_counts', 'scopes') }} and listed_counts.metric = metrics.metric
),

{#- the data day's volume and the day before's, per community and per category -#}
{%- for name, key in [('by_community', 'community_id'), ('by_category', 'category_code')] %}
{{ name }} as (
    select
        daily.street_id,
        daily.{{ key }},
        sum(daily.received_total) filter (where daily.date_day = days.data_date) as value,
        sum(daily.received_total) filter (where daily.date_day = days.data_date - 1) as previous_value
    from daily
    cross join days
    group by daily.{{ key }}, rollup (daily.street_id)
),
{% endfor %}

heatmap as (
    select
        daily.street_id,
        daily.community_id,
        daily.category_code,
        sum(daily.received_total - daily.received_proactive) as value
    from daily
    cross join days
    cross join settings
    where daily.date_day > days.data_date - settings.heatmap_days
    group by daily.community_id, daily.category_code, rollup (daily.street_id)
),

rates_summed as (
    -- the orders month by month: a street's its own row of the mart (mart_street_ranking's figures), the
    -- district's every street's together (a street's own install: its street's row alone), with the mart's
    -- credits (in satisfaction_points) and weights
    select
        rates.street_id,
        rates.period_start,
        sum(rates.contacted_in_time_orders)::numeric / nullif(sum(rates.due_for_contact_orders), 0) as response_rate,
        sum(rates.resolved_orders)::numeric / nullif(sum(rates.resolution_visited_orders), 0) as resolution_rate,
        sum(rates.satisfaction_points) / nullif(sum(rates.satisfaction_visited_orders), 0) as satisfaction_rate,
        max(rates.weight_response) as weight_response,
        max(rates.weight_resolution) as weight_resolution,
        max(rates.weight_satisfaction) as weight_satisfaction
    from {{ ref('mart_three_rates') }} as rates
    where rates.period_grain = 'month' and rates.area_level = 'street' and rates.channel_scope = 'ranked'
    group by rates.period_start, rollup (rates.street_id)
),

rates as (
    select
        rates_summed.street_id,
        rates_summed.period_start,
        date_trunc('month', days.data_date)::date as this_month,
        (date_trunc('month', days.data_date) - interval '1 month')::date as last_month,
        round(response_rate, 4) as response_rate,
        round(resolution_rate, 4) as resolution_rate,
        round(satisfaction_rate, 4) as satisfaction_rate,
        -- as mart_three_rates computes it: the weights on the unrounded rates
        round(weight_response * response_rate + weight_resolution * resolution_rate
              + weight_satisfaction * satisfaction_rate, 4) as composite_score
    from rates_summed
    cross join days
),

three_rates as (
    {%- for metric in ['response_rate', 'resolution_rate', 'satisfaction_rate', 'composite_score'] %}
    select
        scopes.street_id,
        '{{ metric }}' as metric,
        max(rates.{{ metric }}) filter (where rates.period_start = rates.this_month) as value,
        max(rates.{{ metric }}) filter (where rates.period_start = rates.last_month) as previous_value
    from scopes
    left join rates on {{ same_scope('rates', 'scopes') }}
    group by scopes.street_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

weekly_codes as (
    select codes.*
    from {{ ref('mart_sentiment_code') }} as codes
    cross join days
    where codes.period_grain = 'week' and codes.grade_level = 'community'
      and codes.period_start in (date_trunc('week', days.data_date)::date, (date_trunc('week', days.data_date) - interval '1 week')::date)
),

sentiment_rises as (
    select
        this_week.street_id,
        this_week.community_id,
        this_week.grade_rank as value,
        last_week.grade_rank as previous_value,
        this_week.grade,
        last_week.grade as previous_grade,
        this_week.reasons
    from weekly_codes as this_week
    join weekly_codes as last_week
        on last_week.community_id = this_week.community_id
        and last_week.street_id = this_week.street_id  -- 'unresolved' is graded in each street apart
        and last_week.period_start = this_week.period_start - 7
    cross join days
    where this_week.period_start = date_trunc('week', days.data_date)::date
      and this_week.grade_rank > last_week.grade_rank
),

items as (
    select summary.street_id, 'summary' as section, labels.sort_order as item_rank, null::date as series_date,
           null as source_channel, null as community_id, null as category_code, null as complaint_id,
           null as handling_unit, summary.metric, summary.value, summary.previous_value, null as grade,
           null as previous_grade, null as detail_zh, null as problem_id
    from summary
    join labels on labels.kind = 'metric' and labels.code = summary.metric

    union all
    select channel_series.street_id, 'received_by_channel', channel_series.sort_order, null, channel_series.source_channel,
           null, null, null, null,
           'received', channel_series.received, previous.received, null, null, null, null
    from channel_series
    cross join days
    left join channel_series as previous
        on {{ same_scope('previous', 'channel_series') }}
        and previous.source_channel = channel_series.source_channel and previous.series_date = days.data_date - 1
    where channel_series.series_date = days.data_date

    union all
    select street_id, 'received_by_community',
           row_number() over (partition by street_id order by coalesce(value, 0) desc, community_id)::integer, null, null,
           community_id, null, null, null,
           'received', coalesce(value, 0), coalesce(previous_value, 0), null, null, null, null
    from by_community

    union all
    select by_category.street_id, 'received_by_category',
           row_number() over (partition by by_category.street_id
                              order by coalesce(by_category.value, 0) desc, by_category.category_code)::integer,
           null, null, null, by_category.category_code, null, categories.handling_unit,
           'received', coalesce(by_category.value, 0), coalesce(by_category.previous_value, 0), null, null, null, null
    from by_category
    join categories using (category_code)

    union all
    select street_id, 'volume_trend', sort_order, series_date, source_channel,
           null, null, null, null,
           'received', received, null, null, null, null, null
    from channel_series

    union all
    select street_id, 'category_heatmap',
           dense_rank() over (partition by street_id order by community_id)::integer, null, null,
           community_id, category_code, null, null,
           'complaints', value, null, null, null, null, null
    from heatmap

    union all
    select three_rates.street_id, 'three_rates', labels.sort_order, null, null,
           null, null, null, null,
           three_rates.metric, three_rates.value, three_rates.previous_value, null, null, null, null
    from three_rates
    join labels on labels.kind = 'metric' and labels.code = three_rates.metric

    union all
    -- one row per repeat problem: complaint_id is its first report (the work order the meeting can look up)
    select ranked.scope_street_id, 'repeat_problem', ranked.item_rank, null, ranked.first_channel,
           ranked.community_id, ranked.category_code, ranked.first_complaint_id, categories.handling_unit,
           'problem_reports', ranked.report_count, ranked.day_report_count, null, null,
           ranked.report_count || '件：首报' || ranked.first_by_zh || '（' || {{ cn_day('ranked.first_received_date') }} || '）'
               || case when ranked.complainant_count > 0 then '，' || ranked.complainant_count || '人反映' else '' end
               || '，渠道：' || ranked.channels_zh
               || '；' || case
                            when ranked.open_report_count = ranked.report_count then '未办结'
                            when ranked.open_report_count > 0 then '未办结' || ranked.open_report_count || '件'
                            when ranked.closed_report_count > 0 then '已办结'
                            else '已撤销'
                          end,
           ranked.problem_id
    from repeat_problems_ranked as ranked
    cross join settings
    left join categories on categories.category_code = ranked.category_code
    where ranked.item_rank <= settings.repeat_problem_list_limit

    union all
    select ranked.scope_street_id, 'overdue_order', ranked.item_rank, null, ranked.source_channel,
           ranked.community_id, ranked.category_code, ranked.complaint_id,
           coalesce(ranked.handling_unit_reported, ranked.suggested_handling_unit),
           'overdue_hours', round(ranked.overdue_hours::numeric, 1), null, null, null,
           '受理于' || to_char({{ bj_local('ranked.received_at') }}, 'MM-DD HH24:MI')
               || '，时限' || to_char({{ bj_local('ranked.due_at') }}, 'MM-DD HH24:MI')
               || '，' || coalesce(status_labels.label_zh, ranked.status),
           null
    from (
        select overdue_open.*, scope.scope_street_id,
               row_number() over (partition by scope.scope_street_id
                                  order by overdue_open.overdue_hours desc, overdue_open.complaint_id)::integer as item_rank
        from overdue_open
        {{ in_its_street_and_the_district('overdue_open.street_id') }}
    ) as ranked
    cross join settings
    left join labels as status_labels on status_labels.kind = 'status' and status_labels.code = ranked.status
    where ranked.item_rank <= settings.overdue_list_limit

    union all
    select scope.scope_street_id, 'returned_order',
           row_number() over (partition by scope.scope_street_id
                              order by returned.returned_at, returned.complaint_id)::integer,
           null, complaints.source_channel,
           complaints.community_id, complaints.category_code, returned.complaint_id,
           coalesce(complaints.handling_unit_reported, complaints.suggested_handling_unit),
           'returned', 1, null, null, null,
           '退单于' || to_char({{ bj_local('returned.returned_at') }}, 'MM-DD HH24:MI')
               || '，现' || coalesce(status_labels.label_zh, complaints.status),
           null
    from returned_events as returned
    cross join days
    join {{ ref('fct_complaints') }} as complaints using (complaint_id)
    {{ in_its_street_and_the_district('returned.street_id') }}
    left join labels as status_labels on status_labels.kind = 'status' and status_labels.code = complaints.status
    where returned.returned_date = days.data_date

    union all
    select scope.scope_street_id, 'sentiment_rise',
           row_number() over (partition by scope.scope_street_id
                              order by rises.value desc, rises.value - rises.previous_value desc, rises.community_id)::integer,
           null, null, rises.community_id, null, null, null,
           'grade_rank', rises.value, rises.previous_value, rises.grade, rises.previous_grade, rises.reasons, null
    from sentiment_rises as rises
    {{ in_its_street_and_the_district('rises.street_id') }}

    union all
    select scope.scope_street_id, 'early_warning',
           row_number() over (partition by scope.scope_street_id
                              order by warnings.surge_ratio desc, warnings.expected_volume desc, warnings.community_id,
                                       warnings.category_code)::integer,
           null, null,
           warnings.community_id, warnings.category_code, null, warnings.handling_unit,
           'expected_volume', warnings.expected_volume, warnings.baseline_volume, null, null,
           warnings.reason || '。建议：' || coalesce(warnings.proactive_action_zh, ''), null
    from warnings
    {{ in_its_street_and_the_district('warnings.street_id') }}

    union all
    select street_id, 'data_notice',
           row_number() over (partition by street_id order by sort_order, period_start, status)::integer, null,
           source_channel, null, null, null, null,
           status, deliveries, null, null, null, detail_zh, null
    from notices
)

select
    days.briefing_date,
    days.data_date,
    days.as_of_at,
    items.street_id,
    items.section,
    section_labels.label_zh as section_zh,
    items.item_rank::integer as item_rank,
    items.series_date,
    items.source_channel,
    channel_labels.label_zh as source_channel_zh,
    items.community_id,
    communities.community_name,
    items.category_code,
    categories.category_name_zh,
    items.complaint_id,
    complaints.source_record_id,
    items.problem_id,
    items.handling_unit,
    items.metric,
    metric_labels.label_zh as metric_zh,
    items.value::numeric(14, 4) as value,
    items.previous_value::numeric(14, 4) as previous_value,
    items.grade,
    {{ grade_zh('items.grade') }} as grade_zh,
    items.previous_grade,
    {{ grade_zh('items.previous_grade') }} as previous_grade_zh,
    items.detail_zh,
    case
        when items.section in ('received_by_channel', 'volume_trend')
            then coalesce(channel_today.is_incomplete, false)
        when items.section in ('summary', 'received_by_community', 'received_by_category')
             and items.metric in ('received', 'problems_received', 'complaints', 'proactive_found', 'proactive_share')
            then coalesce(not day_today.complete, false)
        else false
    end as is_incomplete,
    case
        when items.section = 'received_by_channel' then coalesce(channel_before.is_incomplete, false)
        when items.section in ('summary', 'received_by_community', 'received_by_category')
             and items.metric in ('received', 'problems_received', 'complaints', 'proactive_found', 'proactive_share')
            then coalesce(not day_before.complete, false)
        else false
    end as previous_is_incomplete
from items
cross join days
-- the streets of dim_street and the district ('unresolved' has rows above, no briefing)
join scopes on {{ same_scope('scopes', 'items') }}
left join channel_series as channel_today
    on {{ same_scope('channel_today', 'items') }}
    and channel_today.source_channel = items.source_channel
    and channel_today.series_date = coalesce(items.series_date, days.data_date)
left join channel_series as channel_before
    on {{ same_scope('channel_before', 'items') }}
    and channel_before.source_channel = items.source_channel and channel_before.series_date = days.data_date - 1
left join day_completeness as day_today on {{ same_scope('day_today', 'items') }} and day_today.date_day = days.data_date
left join day_completeness as day_before on {{ same_scope('day_before', 'items') }} and day_before.date_day = days.data_date - 1
join labels as section_labels on section_labels.kind = 'section' and section_labels.code = items.section
left join labels as channel_labels on channel_labels.kind = 'channel' and channel_labels.code = items.source_channel
left join labels as metric_labels on metric_labels.kind = 'metric' and metric_labels.code = items.metric
left join communities on communities.community_id = items.community_id
left join categories on categories.category_code = items.category_code
left join {{ ref('fct_complaints') }} as complaints on complaints.complaint_id = items.complaint_id
