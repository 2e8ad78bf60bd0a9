-- One row per ticket version from the mini-program: renamed, statuses mapped, personal data
-- only as key and mask. Bill payments and renovation applications stay, flagged as not a demand.
with

source as (
    select * from {{ source('raw', 'miniprogram_tickets') }}
),

status_codes as (
    select source_status, status from {{ ref('status_codes') }} where source_system = 'miniprogram'
),

renamed as (
    select
        source.ticket_id,
        source.file_id,
        source.row_number,
        source.ticket_type,
        source.is_resident_demand,
        source.submitted_at as received_at,
        source.updated_at,
        source.community as community_raw,
        source.project_code,
        nullif(concat_ws('-', source.building, source.unit, source.room), '') as location,
        source.building,
        {{ redact_phones('source.title') }} as title,
        {{ redact_phones("coalesce(source.title, '') || ' ' || coalesce(source.content, '')") }} as complaint_text,
        {{ text_sha256("coalesce(source.title, '') || ' ' || coalesce(source.content, '')") }} as text_sha256,
        jsonb_array_length(coalesce(source.images, '[]'::jsonb)) as image_count,
        source.user_key as complainant_key,
        source.user_nickname_masked as complainant_name_masked,
        source.user_phone_masked as complainant_phone_masked,
        source.status as status_raw,
        status_codes.status,
        source.events,
        case when source.rating ~ '^[0-9]+(\.[0-9]+)?$' then source.rating::numeric end as rating,
        source.rating_comment
    from source
    left join status_codes on status_codes.source_status = source.status
)

select * from renamed
