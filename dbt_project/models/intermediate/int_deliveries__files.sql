-- Which expected delivery (reference/expected_deliveries.csv) each landed file is, and the days it covers.
-- A file is a delivery when its path matches the delivery's path_like, or, for a delivery of a whole
-- channel (no community), when it carries records of the delivery's source channel (one hotline
-- export holding both the 12345 and the 400 orders is a delivery of each). The days come from the
-- date in the file's name; a name without one covers the newest day of its records (a daily
-- delivery) or that day's month (a monthly one).
with

files as (
    select * from {{ ref('stg_ops__ingested_files') }}
),

expected as (
    select * from {{ ref('expected_deliveries') }}
),

record_days as (
    select * from {{ ref('int_deliveries__file_records') }}
),

matched as (
    select
        expected.delivery_id,
        expected.cadence,
        files.*,
        record_days.records as source_channel_records,
        record_days.newest_day
    from files
    join expected on expected.channel = files.channel
    left join record_days
        on record_days.file_id = files.file_id and record_days.source_channel = expected.source_channel
    where files.path like expected.path_like
       or (expected.community_id is null and expected.street_id is null and record_days.records > 0)
)

select
    delivery_id,
    file_id,
    path,
    status,
    landed_at,
    coalesce(covers_from,
             case cadence when 'daily' then newest_day else date_trunc('month', newest_day)::date end) as period_start,
    coalesce(covers_to,
             case cadence when 'daily' then newest_day
                  else (date_trunc('month', newest_day) + interval '1 month' - interval '1 day')::date end) as period_end,
    -- the file's rows of the delivery's source channel (all its loaded rows when none are visible: held)
    coalesce(source_channel_records, case when status = 'held' then rows_loaded else 0 end) as delivered_rows,
    rows_in,
    held_reason,
    quarantine_reason
from matched
