-- One row per reception-day / door-knocking / patrol entry: renamed, typed, method normalised,
-- personal data only as key and mask, phone numbers in the free text (staff, address, issue, handling,
-- remarks) redacted; text_sha256 is of the original issue. Issues found here came before any
-- complaint (未诉先办).
with

source as (
    select * from {{ source('raw', 'reception_entries') }} where {{ not_held() }}
),

methods as (
    select method_raw, method_code from {{ ref('reception_methods') }}
),

closed_values as (
    select source_value, value::boolean as is_closed from {{ ref('source_values') }}
    where source_system = 'reception' and column_name = 'is_closed'
),

renamed as (
    select
        source.entry_id,
        source.file_id,
        source.sheet,
        source.row_number,
        source.entry_date,
        {{ bj_day_start('source.entry_date') }} as received_at,
        source.community as community_raw,
        source.method as method_raw,
        coalesce(methods.method_code, 'reception_day') as method_code,
        methods.method_code is null as is_method_unrecognised,
        {{ redact_phones('source.staff') }} as staff,
        source.resident_key as complainant_key,
        source.resident_name_masked as complainant_name_masked,
        source.resident_contact_masked as complainant_phone_masked,
        {{ redact_phones('source.address') }} as address,
        {{ redact_phones(complaint_text(['issue_text'], 'source')) }} as complaint_text,
        {{ text_sha256(complaint_text(['issue_text'], 'source')) }} as text_sha256,
        source.issue_category as issue_category_raw,
        {{ redact_phones('source.handling') }} as handling,
        closed_values.is_closed,
        {{ redact_phones('source.remarks') }} as remarks
    from source
    left join methods on methods.method_raw = regexp_replace(source.method, '\s', '', 'g')
    left join closed_values on closed_values.source_value = source.is_closed
)

select * from renamed
