-- Did every expected delivery come in? One row per expected delivery (reference/expected_deliveries.csv:
-- the daily 12345 and 400 exports, the daily mini-program pull, each community's monthly reception
-- workbook) × day it covers, from the first day its channel delivered anything to the newest run's
-- day D (macros/as_of.sql): the files and rows that arrived, when, and its status as of the dispatch
-- meeting on D + 1
-- (seeds/briefing_settings.csv meeting_hour):
--   arrived      in, by its due time          late       in, after its due time
--   held         in, but its batch failed validation and waits for a person (quality/held.py)
--   quarantined  in, but nothing of it could be used (quarantined whole)
--   missing      not in, and due by the meeting           pending    not in, not due yet
-- Per street (issue 23): a community's delivery is its street's, a street's own export (street_id) that
-- street's; a delivery of neither (the hotline exports, the mini-program pull: one file for the whole
-- warehouse) is a row of each street it serves, the
-- same file and figures on each, so that a street sees the deliveries its figures depend on. Whoever
-- counts deliveries over streets counts distinct (delivery_id, covers_day).
-- Only arrived and late deliveries are complete: a channel's figures for a day with any other
-- status are incomplete, and the briefing says so rather than showing a missing day as 0.
with

as_of as (
    select {{ bj_last_day(as_of()) }} as report_day
),

meeting as (
    select make_interval(mins => round(value * 60)::integer) as meeting_time
    from {{ ref('briefing_settings') }} where setting = 'meeting_hour'
),

expected as (
    select * from {{ ref('expected_deliveries') }}
),

files as (
    select * from {{ ref('int_deliveries__files') }}
),

channel_start as (
    -- a channel is expected from the first day any of its deliveries covers; a channel that never
    -- delivered anything, from the first day any delivery covers
    select channels.channel, coalesce(min(files.period_start), (select min(period_start) from files)) as first_day
    from (select distinct channel from expected) as channels
    left join expected using (channel)
    left join files using (delivery_id)
    group by channels.channel
),

grid as (
    select
        expected.*,
        as_of.report_day,
        day::date as covers_day,
        case expected.cadence when 'daily' then day::date else date_trunc('month', day)::date end as period_start,
        case expected.cadence when 'daily' then day::date
             else (date_trunc('month', day) + interval '1 month' - interval '1 day')::date end as period_end
    from expected
    join channel_start using (channel)
    cross join as_of
    cross join lateral generate_series(channel_start.first_day, as_of.report_day, interval '1 day') as day
),

timed as (
    select
        grid.*,
        {{ bj_day_start('grid.period_end + grid.due_days_after') }} + cast(grid.due_time as interval) as due_at,
        {{ bj_day_start('grid.report_day + 1') }} + meeting.meeting_time as report_at
    from grid
    cross join meeting
),

covered as (
    select
        timed.delivery_id,
        timed.covers_day,
        count(files.file_id) as files,
        count(files.file_id) filter (where files.status = 'loaded') as files_loaded,
        count(files.file_id) filter (where files.status = 'held') as files_held,
        coalesce(sum(files.delivered_rows) filter (where files.status = 'loaded'), 0) as rows_loaded,
        coalesce(sum(files.delivered_rows) filter (where files.status = 'held'), 0) as rows_held,
        min(files.landed_at) filter (where files.status = 'loaded') as first_landed_at,
        min(files.held_reason) as held_reason
    from timed
    left join files
        on files.delivery_id = timed.delivery_id
        and timed.covers_day between files.period_start and files.period_end
    group by timed.delivery_id, timed.covers_day
),

judged as (
    select
        timed.*,
        covered.files,
        covered.rows_loaded,
        covered.rows_held,
        covered.first_landed_at,
        covered.held_reason,
        case
            when covered.files_loaded > 0 then case when covered.first_landed_at > timed.due_at then 'late' else 'arrived' end
            when covered.files_held > 0 then 'held'
            when covered.files > 0 then 'quarantined'
            when timed.due_at <= timed.report_at then 'missing'
            else 'pending'
        end as status
    from timed
    join covered using (delivery_id, covers_day)
),

labels as (
    select * from {{ ref('briefing_labels') }}
)

select
    judged.report_day,
    judged.delivery_id,
    judged.channel,
    judged.source_channel,
    channel_labels.label_zh as source_channel_zh,
    judged.community_id,
    streets.street_id,
    communities.community_name,
    judged.cadence,
    judged.covers_day,
    judged.period_start,
    judged.period_end,
    judged.due_at,
    judged.status,
    status_labels.label_zh as status_zh,
    judged.status in ('arrived', 'late') as is_complete,
    judged.covers_day between judged.report_day - 1 and judged.report_day as is_reported,
    judged.files,
    judged.rows_loaded,
    judged.rows_held,
    judged.first_landed_at,
    judged.held_reason,
    case when judged.status <> 'arrived' then
        {{ delivery_notice("coalesce(communities.community_name || ' ', case when delivery.street_id is not null "
                           "then streets.street_name || ' ' end, '') || channel_labels.label_zh",
                           'judged.status', 'status_labels.label_zh', 'judged.cadence', 'judged.period_start',
                           'judged.due_at', 'judged.first_landed_at', 'judged.held_reason') }}
    end as notice_zh,
    channel_labels.sort_order
from judged
join labels as channel_labels on channel_labels.kind = 'channel' and channel_labels.code = judged.source_channel
join labels as status_labels on status_labels.kind = 'delivery_status' and status_labels.code = judged.status
join expected as delivery on delivery.delivery_id = judged.delivery_id
left join {{ ref('dim_community') }} as communities on communities.community_id = judged.community_id
join {{ ref('dim_street') }} as streets
    on streets.street_id = coalesce(delivery.street_id, communities.street_id)
    or (coalesce(delivery.street_id, communities.street_id) is null and streets.street_id <> 'unresolved')
