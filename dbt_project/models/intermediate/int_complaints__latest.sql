-- The newest version of each record: the latest 更新时间 / updated_at wins, whatever order the
-- files arrived in; ties (a re-delivered file) go to the later file and row.
--
-- Incremental, so that a day's build reads the day's files, not the history: versions only ever
-- arrive (raw keeps every one, files are never rewritten), so a record's newest version after a
-- build is the newer of the one kept here and those of the files loaded since (`file_id` above the
-- newest file this table has seen); first_version_at and version_count combine the same way.
-- A change of the settings the versions are read with (status mapping, rating cut-offs, hashing
-- key) empties the table first and the build starts from all versions (macros/incremental.sql).
{%- set seeds = ['status_codes', 'source_values', 'reception_methods'] %}
{%- set setting_vars = ['rating_resolved_min', 'rating_satisfied_min', 'rating_basically_satisfied_min'] %}
{{ config(
    materialized='incremental',
    unique_key='complaint_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    indexes=[
        {'columns': ['complaint_id'], 'unique': true},
        {'columns': ['source_file_id']},
        {'columns': ['text_sha256']},
        {'columns': ['version_updated_at']},
    ],
    pre_hook="{{ reset_when_settings_change(" ~ seeds ~ ", " ~ setting_vars ~ ") }}",
    post_hook=["{{ remember_settings(" ~ seeds ~ ", " ~ setting_vars ~ ") }}", "{{ ensure_index(['built_at']) }}"],
) }}
-- depends_on: {{ ref('status_codes') }}, {{ ref('source_values') }}, {{ ref('reception_methods') }}
{%- set incremental = is_incremental() and not settings_changed(seeds, setting_vars) %}

with

new_versions as (
    select * from {{ ref('int_complaint_versions') }}
    {% if incremental %}
    where file_id > {{ watermark('source_file_id', '0') }}::bigint
    {% endif %}
),

new_seen as (
    select
        source_channel,
        source_record_id,
        min(version_updated_at) as first_version_at,
        count(*) as version_count,
        max(file_id) as source_file_id
    from new_versions
    group by source_channel, source_record_id
),

{% if incremental %}
{%- set version_columns = adapter.get_columns_in_relation(ref('int_complaint_versions')) | map(attribute='quoted') | join(', ') %}
-- the newest version kept for each record that has new ones, beside the new ones
kept as (
    select *
    from {{ this }}
    where complaint_id in (select md5(source_channel || ':' || source_record_id) from new_seen)
),

candidates as (
    select {{ version_columns }} from new_versions
    union all
    select {{ version_columns }} from kept
),

seen as (
    select
        new_seen.source_channel,
        new_seen.source_record_id,
        least(new_seen.first_version_at, kept.first_version_at) as first_version_at,
        new_seen.version_count + coalesce(kept.version_count, 0) as version_count,
        greatest(new_seen.source_file_id, kept.source_file_id) as source_file_id
    from new_seen
    left join kept using (source_channel, source_record_id)
),
{% else %}
candidates as (
    select * from new_versions
),

seen as (
    select * from new_seen
),
{% endif %}

latest as (
    select distinct on (source_channel, source_record_id) *
    from candidates
    order by source_channel, source_record_id, version_updated_at desc, file_id desc, row_number desc
)

select
    md5(latest.source_channel || ':' || latest.source_record_id) as complaint_id,
    latest.*,
    seen.first_version_at,
    seen.version_count,
    seen.source_file_id,
    {{ built_at() }} as built_at
from latest
join seen using (source_channel, source_record_id)
