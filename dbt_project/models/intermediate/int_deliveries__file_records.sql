-- Per landed file and source channel: its records and the newest Beijing day they were received — what
-- int_deliveries__files needs of a file's rows, kept per file so that no build counts the history again.
-- Append-only, like int_complaint_versions: a build adds the files loaded since the newest one here; the
-- release of a held file or a new hashing key empties it and the build counts every file again
-- (macros/incremental.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[{'columns': ['file_id', 'source_channel'], 'unique': true}],
    pre_hook="{{ reset_when_settings_change([]) }}",
    post_hook="{{ remember_settings([]) }}",
) }}
{%- set incremental = is_incremental() and not settings_changed([]) %}

select
    file_id,
    source_channel,
    count(*) as records,
    max({{ bj_date('received_at') }}) as newest_day
from {{ ref('int_complaint_versions') }}
{%- if incremental %}
where file_id > {{ watermark('file_id', '0') }}::bigint
{%- endif %}
group by file_id, source_channel
