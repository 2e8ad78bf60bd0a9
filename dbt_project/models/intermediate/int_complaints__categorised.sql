-- Attach the category (from the classifier's stored result), the hotline's own classification
-- mapped to our codes for comparison, the suggested handling unit and the due time.
with

complaints as (
    select * from {{ ref('int_complaints__community_resolved') }}
),

classifications as (
    select text_sha256, category_code, confidence, evidence
    from {{ source('ops', 'text_classifications') }}
),

categories as (
    select category_code, handling_unit, time_limit_hours from {{ ref('issue_categories') }}
),

hotline_terms as (
    select hotline_term, category_code from {{ ref('hotline_category_map') }}
),

-- The rightmost (most specific) term of the hotline's path decides; the longer term breaks ties.
hotline_mapped as (
    select distinct on (complaints.complaint_id)
        complaints.complaint_id,
        hotline_terms.category_code as hotline_category_code
    from complaints
    join hotline_terms on strpos(complaints.hotline_category_path, hotline_terms.hotline_term) > 0
    order by
        complaints.complaint_id,
        strpos(complaints.hotline_category_path, hotline_terms.hotline_term) desc,
        length(hotline_terms.hotline_term) desc
)

select
    complaints.*,
    coalesce(classifications.category_code, 'other') as category_code,
    coalesce(classifications.confidence, 0) as category_confidence,
    coalesce(classifications.evidence, '{}') as category_evidence,
    classifications.category_code is null as is_unclassified,
    hotline_mapped.hotline_category_code,
    categories.handling_unit as suggested_handling_unit,
    categories.time_limit_hours,
    coalesce(complaints.dispatched_at, complaints.received_at)
        + categories.time_limit_hours * interval '1 hour' as due_at,
    complaints.community_id || ':' || coalesce(
        substring(complaints.address from '([0-9]+)\s*(?:号楼|栋|幢|号院)'),
        substring(complaints.address from '^([0-9]+)-'),
        nullif(regexp_replace(coalesce(complaints.address, ''), '\s|[0-9]+(单元|室|号)?$', '', 'g'), ''),
        '?'
    ) as address_key
from complaints
left join classifications using (text_sha256)
left join categories on categories.category_code = coalesce(classifications.category_code, 'other')
left join hotline_mapped using (complaint_id)
