-- The status events a ticket version carries, one row each (a later pull repeats earlier events);
-- phone numbers in who acted on an event ("by", free text) redacted.
with

tickets as (
    select ticket_id, file_id, row_number, updated_at, events
    from {{ source('raw', 'miniprogram_tickets') }}
    where jsonb_typeof(events) = 'array' and {{ not_held() }}
),

status_codes as (
    select source_status, status from {{ ref('status_codes') }} where source_system = 'miniprogram'
),

events as (
    select
        tickets.ticket_id,
        tickets.file_id,
        tickets.updated_at as version_updated_at,
        event.ordinality as event_position,
        event.value ->> 'status' as event_status_raw,
        (event.value ->> 'at')::timestamptz as event_at,
        {{ redact_phones("event.value ->> 'by'") }} as event_by
    from tickets
    cross join lateral jsonb_array_elements(tickets.events) with ordinality as event (value, ordinality)
    where jsonb_typeof(event.value) = 'object'
)

select
    events.*,
    status_codes.status as event_status
from events
left join status_codes on status_codes.source_status = events.event_status_raw
