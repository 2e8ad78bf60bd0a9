-- Every version of every record of the three channels in one shape: the complaint event stream
-- before de-duplication. Mini-program milestones come from the ticket's own events.
--
-- An append-only table keyed by record and file (issue 17: a daily cost flat in history): a file's
-- versions never change once it is loaded (raw keeps every version, files are never rewritten), so a
-- build appends the versions of the files loaded since the last one (`file_id` above the newest here)
-- and reads nothing else of raw; the staging views' typing, mapping and redaction run once per row.
-- Readers find a record's versions through the (source_channel, source_record_id) index and a file's
-- through file_id. A change of what the versions are read with (status mapping, rating cut-offs, the
-- hashing key) or the release of a held file (older than the watermark) empties it first and the build
-- reads every version again (macros/incremental.sql), as `dbt build --full-refresh` does.
-- Analysed after each build: the new versions lie beyond the statistics' histogram, and without fresh
-- ones the planner takes a day's 60,000 new versions for one row and int_complaints__latest's joins
-- for nested loops (315 s instead of 4 at 1M rows of history).
{%- set seeds = ['status_codes', 'source_values', 'reception_methods'] %}
{%- set setting_vars = ['rating_resolved_min', 'rating_satisfied_min', 'rating_basically_satisfied_min'] %}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    indexes=[
        {'columns': ['file_id']},
        {'columns': ['source_channel', 'source_record_id']},
    ],
    pre_hook="{{ reset_when_settings_change(" ~ seeds ~ ", " ~ setting_vars ~ ") }}",
    post_hook=["{{ remember_settings(" ~ seeds ~ ", " ~ setting_vars ~ ") }}", "analyze {{ this }}"],
) }}
-- depends_on: {{ ref('status_codes') }}, {{ ref('source_values') }}, {{ ref('reception_methods') }}
{%- set incremental = is_incremental() and not settings_changed(seeds, setting_vars) %}
{#- the files a build reads: those above the newest one here (a literal: the planner sees how few), every
    file (ids start at 1) when the build is whole -#}
{%- set since = watermark('file_id', '0') if incremental else '0' %}
with

hotline as (
    select
        source_channel,
        work_order_id as source_record_id,
        updated_at as version_updated_at,
        file_id,
        row_number,
        received_at,
        community_raw,
        address,
        complaint_text,
        text_sha256,
        demand_type,
        true as is_resident_demand,
        false as is_proactive,
        cast(null as text) as proactive_method,
        status,
        dispatched_at,
        accepted_at,
        first_contact_at as responded_at,
        closed_at,
        is_resolved,
        satisfaction,
        complainant_key,
        complainant_name_masked,
        complainant_phone_masked,
        hotline_category_path,
        handling_unit as handling_unit_reported
    from {{ ref('stg_hotline__work_orders') }}
    where file_id > {{ since }}::bigint
),

ticket_milestones as (
    select
        ticket_id,
        version_updated_at,
        min(event_at) filter (where event_status = 'dispatched') as dispatched_at,
        min(event_at) filter (where event_status = 'accepted') as accepted_at,
        min(event_at) filter (where event_status in ('accepted', 'in_progress')) as responded_at,
        max(event_at) filter (where event_status = 'closed') as closed_at
    from {{ ref('stg_miniprogram__ticket_events') }}
    where file_id > {{ since }}::bigint
    group by ticket_id, version_updated_at
),

miniprogram as (
    select
        'miniprogram' as source_channel,
        tickets.ticket_id as source_record_id,
        tickets.updated_at as version_updated_at,
        tickets.file_id,
        tickets.row_number,
        tickets.received_at,
        tickets.community_raw,
        tickets.location as address,
        tickets.complaint_text,
        tickets.text_sha256,
        tickets.ticket_type as demand_type,
        tickets.is_resident_demand,
        false as is_proactive,
        cast(null as text) as proactive_method,
        tickets.status,
        milestones.dispatched_at,
        milestones.accepted_at,
        milestones.responded_at,
        case when tickets.status = 'closed' then coalesce(milestones.closed_at, tickets.updated_at) end as closed_at,
        -- a rating is the resident's own verdict at the return visit
        case when tickets.rating is not null then tickets.rating >= {{ var('rating_resolved_min', 3) }} end as is_resolved,
        case
            when tickets.rating is null then null
            when tickets.rating >= {{ var('rating_satisfied_min', 5) }} then 'satisfied'
            when tickets.rating >= {{ var('rating_basically_satisfied_min', 4) }} then 'basically_satisfied'
            else 'dissatisfied'
        end as satisfaction,
        tickets.complainant_key,
        tickets.complainant_name_masked,
        tickets.complainant_phone_masked,
        cast(null as text) as hotline_category_path,
        cast(null as text) as handling_unit_reported
    from {{ ref('stg_miniprogram__tickets') }} as tickets
    left join ticket_milestones as milestones
        on milestones.ticket_id = tickets.ticket_id
        and milestones.version_updated_at = tickets.updated_at
    where tickets.file_id > {{ since }}::bigint
),

reception as (
    select
        'reception' as source_channel,
        entry_id as source_record_id,
        -- a re-delivered workbook repeats its entries: the later file is the newer version
        received_at + file_id * interval '1 microsecond' as version_updated_at,
        file_id,
        row_number,
        received_at,
        community_raw,
        address,
        complaint_text,
        text_sha256,
        method_code as demand_type,
        true as is_resident_demand,
        true as is_proactive,
        method_code as proactive_method,
        case when is_closed then 'closed' when handling is not null then 'in_progress' else 'received' end as status,
        cast(null as timestamptz) as dispatched_at,
        cast(null as timestamptz) as accepted_at,
        received_at as responded_at,   -- found face to face: the resident is in contact at once
        case when is_closed then received_at end as closed_at,
        cast(null as boolean) as is_resolved,  -- only a return visit tells; the log does not
        cast(null as text) as satisfaction,
        complainant_key,
        complainant_name_masked,
        complainant_phone_masked,
        cast(null as text) as hotline_category_path,
        cast(null as text) as handling_unit_reported
    from {{ ref('stg_reception__entries') }}
    where file_id > {{ since }}::bigint
)

select * from hotline
union all
select * from miniprogram
union all
select * from reception
