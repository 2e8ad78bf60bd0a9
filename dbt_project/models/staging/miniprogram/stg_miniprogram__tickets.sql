-- One row per ticket version from the mini-program: renamed, statuses mapped, personal data
-- only as key and mask, phone numbers in the free text (title, content, location, rating comment, who
-- acted on an event) redacted; text_sha256 is of the original title and content. Bill payments and
-- renovation applications stay, flagged as not a demand.
with

source as (
    select * from {{ source('raw', 'miniprogram_tickets') }} where {{ not_held() }}
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
        {{ redact_phones("nullif(concat_ws('-', source.building, source.unit, source.room), '')") }} as location,
        {{ redact_phones('source.building') }} as building,
        {{ redact_phones('source.title') }} as title,
        {{ redact_phones(complaint_text(['title', 'content'], 'source')) }} as complaint_text,
        {{ text_sha256(complaint_text(['title', 'content'], 'source')) }} as text_sha256,
        jsonb_array_length(coalesce(source.images, '[]'::jsonb)) as image_count,
        source.user_key as complainant_key,
        source.user_nickname_masked as complainant_name_masked,
        source.user_phone_masked as complainant_phone_masked,
        source.status as status_raw,
        status_codes.status,
        -- the events as sent, the free text of who acted on each ("by") redacted
        case when jsonb_typeof(source.events) = 'array' then coalesce((
            select jsonb_agg(
                case when jsonb_typeof(event.value -> 'by') = 'string'
                     then jsonb_set(event.value, '{by}', to_jsonb({{ redact_phones("event.value ->> 'by'") }}))
                     else event.value end
                order by event.ordinality)
            from jsonb_array_elements(source.events) with ordinality as event (value, ordinality)
        ), '[]'::jsonb) else source.events end as events,
        case when source.rating ~ '^[0-9]+(\.[0-9]+)?$' then source.rating::numeric end as rating,
        {{ redact_phones('source.rating_comment') }} as rating_comment
    from source
    left join status_codes on status_codes.source_status = source.status
)

select * from renamed
