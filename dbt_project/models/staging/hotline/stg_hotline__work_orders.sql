-- One row per work-order version from the 12345 / 400 exports: renamed, typed, statuses mapped,
-- personal data only as key and mask, phone numbers in the free text (content, address, handling unit)
-- redacted; text_sha256 is of the original content.
with

source as (
    select * from {{ source('raw', 'hotline_work_orders') }} where {{ not_held() }}
),

status_codes as (
    select source_status, status from {{ ref('status_codes') }} where source_system = 'hotline'
),

resolved_values as (
    select source_value, value::boolean as is_resolved from {{ ref('source_values') }}
    where source_system = 'hotline' and column_name = 'resolved'
),

satisfaction_values as (
    select source_value, value as satisfaction from {{ ref('source_values') }}
    where source_system = 'hotline' and column_name = 'satisfaction'
),

renamed as (
    select
        source.work_order_id,
        case source.intake_line when '12345' then 'hotline_12345' else 'hotline_400' end as source_channel,
        source.file_id,
        source.row_number,
        source.received_at,
        source.updated_at,
        source.complainant_key,
        source.complainant_name_masked,
        source.complainant_phone_masked,
        source.demand_type,
        {{ redact_phones(complaint_text(['content'], 'source')) }} as complaint_text,
        {{ text_sha256(complaint_text(['content'], 'source')) }} as text_sha256,
        {{ redact_phones('source.address') }} as address,
        source.street,
        source.community as community_raw,
        source.hotline_category as hotline_category_path,
        {{ redact_phones('source.handling_unit') }} as handling_unit,
        source.dispatched_at,
        source.accepted_at,
        source.first_contact_at,
        source.closed_at,
        source.status as status_raw,
        status_codes.status,
        resolved_values.is_resolved,
        satisfaction_values.satisfaction
    from source
    left join status_codes on status_codes.source_status = source.status
    left join resolved_values on resolved_values.source_value = source.resolved
    left join satisfaction_values on satisfaction_values.source_value = source.satisfaction
)

select * from renamed
