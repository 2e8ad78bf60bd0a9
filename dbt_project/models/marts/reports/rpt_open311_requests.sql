-- The street's service requests in the shape of Open311 GeoReport v2 (issue 21), served by `minqing serve`
-- (minqing/publishing/open311_api.py) and exported by `minqing export open311`: one row per complaint of
-- fct_complaints, with nothing a member of the public may not see — a public id instead of the channel's
-- record id (md5 of a per-warehouse secret and the complaint id, migration 0020), the text with phone and
-- room numbers and people named by surname redacted, cut at 4,000 characters, the address to the building at
-- most, no person.
--
-- Incremental: a build rewrites the complaints fct_complaints or the link stage rebuilt since the last one
-- (their built_at) and drops those fct_complaints no longer holds; a table built before street_id (issue 23,
-- for row-level security by street; the API's fields are named in minqing/publishing/open311.py, so it does
-- not show it) is rewritten whole once.
{{ config(
    materialized='incremental',
    unique_key='complaint_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    meta={'open311': true},
    post_hook=["{{ ensure_primary_key('complaint_id') }}", "{{ ensure_index(['requested_datetime']) }}",
               "{{ ensure_index(['service_request_id']) }}",
               "{% if is_incremental() %}delete from {{ this }} as kept where not exists (select from {{ ref('fct_complaints') }} as f where f.complaint_id = kept.complaint_id){% endif %}"],
) }}

with

complaints as (
    select * from {{ ref('fct_complaints') }}
),

problem_reports as (
    select complaint_id, problem_id, built_at from {{ ref('fct_problem_reports') }}
),

categories as (
    select category_code, category_name_zh from {{ ref('dim_issue_category') }}
),

communities as (
    select community_id, community_name from {{ ref('dim_community') }}
),

salt as (
    select salt from {{ ref('stg_ops__open311_salt') }}
),

changed as (
    select
        complaints.*,
        problem_reports.problem_id,
        greatest(complaints.built_at, problem_reports.built_at) as source_built_at
    from complaints
    left join problem_reports on problem_reports.complaint_id = complaints.complaint_id
    {% if is_incremental() and not lacks_contract_columns() %}
    where complaints.built_at > (select coalesce(max(source_built_at), '-infinity') from {{ this }})
       or problem_reports.built_at > (select coalesce(max(source_built_at), '-infinity') from {{ this }})
    {% endif %}
),

shaped as (
    select
        changed.complaint_id,
        changed.community_id,
        changed.street_id,
        'LLQ-' || upper(left(md5((select salt from salt) || ':' || changed.complaint_id), 16)) as service_request_id,
        case when changed.closed_at is not null or changed.status in ('closed', 'cancelled') then 'closed' else 'open' end
            as status,
        changed.status as status_description,
        case changed.status
            when 'received' then '已受理，待派单'
            when 'dispatched' then '已派单'
            when 'accepted' then '承办单位已签收'
            when 'in_progress' then '办理中'
            when 'extended' then '延期办理'
            when 'returned' then '已退单，待重新派单'
            when 'closed' then '已办结'
            when 'cancelled' then '已撤销'
        end
        || case when changed.is_overdue then '（已超期）' else '' end
        || case changed.satisfaction
               when 'satisfied' then '；回访：满意'
               when 'basically_satisfied' then '；回访：基本满意'
               when 'dissatisfied' then '；回访：不满意'
               else ''
           end as status_notes,
        changed.category_code as service_code,
        categories.category_name_zh as service_name,
        -- phones redacted in staging; rooms and people named by surname here; plain text: no HTML tag, line
        -- ends as \n, no control character XML cannot carry
        left({{ redact_names(redact_rooms(
            "regexp_replace(regexp_replace(regexp_replace(changed.complaint_text, '\\r\\n?', E'\\n', 'g'),
                            '</?[A-Za-z][^>]*>', '', 'g'), '[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f]', '', 'g')")) }}, 4000)
            as description,
        coalesce(changed.handling_unit_reported, changed.suggested_handling_unit) as agency_responsible,
        changed.received_at as requested_datetime,
        changed.last_updated_at as updated_datetime,
        changed.due_at as expected_datetime,
        communities.community_name || case
            when split_part(changed.address_key, ':', 2) ~ '^[0-9]+$' then split_part(changed.address_key, ':', 2) || '号楼'
            when split_part(changed.address_key, ':', 2) in ('', '?') then ''
            else split_part(changed.address_key, ':', 2)
        end as address,
        changed.source_channel as source,
        changed.problem_id,
        changed.source_built_at
    from changed
    left join categories on categories.category_code = changed.category_code
    left join communities on communities.community_id = changed.community_id
)

select * from shaped
