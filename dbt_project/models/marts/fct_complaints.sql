-- One row per distinct resident demand (诉求), in its newest state, from every channel.
-- Bill payments and renovation applications of the mini-program are not demands and are left out.
with

complaints as (
    select * from {{ ref('int_complaints__categorised') }}
    where is_resident_demand
)

select
    complaint_id,
    source_channel,
    source_record_id,
    received_at,
    (received_at at time zone 'Asia/Shanghai')::date as received_date,
    community_id,
    community_resolved_from,
    category_code,
    category_confidence::numeric(4, 3) as category_confidence,
    category_evidence,
    hotline_category_path,
    hotline_category_code,
    demand_type,
    status,
    is_proactive,
    proactive_method,
    suggested_handling_unit,
    handling_unit_reported,
    due_at,
    dispatched_at,
    accepted_at,
    responded_at,
    closed_at,
    case
        when closed_at is not null then closed_at > due_at
        when status = 'cancelled' then false
        else {{ as_of() }} > due_at
    end as is_overdue,
    version_count,
    is_resolved as resolved,
    satisfaction,
    complainant_key,
    complainant_phone_masked,
    address_key,
    complaint_text,
    text_sha256,
    version_updated_at as last_updated_at
from complaints
