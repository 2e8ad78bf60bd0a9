-- The newest version of each record: the latest 更新时间 / updated_at wins, whatever order the
-- files arrived in; ties (a re-delivered file) go to the later file and row.
-- A table, not a view: the de-duplication over all versions is the heaviest step of the chain, and
-- as a view it ran once for every model and test reading the chain (five times a build).
{{ config(materialized='table') }}

with

versions as (
    select * from {{ ref('int_complaint_versions') }}
),

first_seen as (
    select source_channel, source_record_id, min(version_updated_at) as first_version_at, count(*) as version_count
    from versions
    group by source_channel, source_record_id
),

latest as (
    select distinct on (source_channel, source_record_id) *
    from versions
    order by source_channel, source_record_id, version_updated_at desc, file_id desc, row_number desc
)

select
    md5(latest.source_channel || ':' || latest.source_record_id) as complaint_id,
    latest.*,
    first_seen.first_version_at,
    first_seen.version_count
from latest
join first_seen using (source_channel, source_record_id)
