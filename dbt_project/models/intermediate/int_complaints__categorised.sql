-- Attach the category (from the classifier's stored result), the hotline's own classification
-- mapped to our codes for comparison, the suggested handling unit and the due time.
--
-- Written as one select with joins on keys and a per-record subquery (no CTEs): Postgres then merges
-- this view into the query reading it, so a filter on complaint_id from an incremental build reaches
-- int_complaints__latest's index and only the rebuilt records are categorised.

select
    complaints.*,
    coalesce(classifications.category_code, 'other') as category_code,
    coalesce(classifications.confidence, 0) as category_confidence,
    coalesce(classifications.evidence, '{}') as category_evidence,
    classifications.category_code is null as is_unclassified,
    classifications.classified_at as category_classified_at,
    -- the rightmost (most specific) term of the hotline's path decides; the longer term breaks ties
    (
        select hotline_terms.category_code
        from {{ ref('hotline_category_map') }} as hotline_terms
        where strpos(complaints.hotline_category_path, hotline_terms.hotline_term) > 0
        order by strpos(complaints.hotline_category_path, hotline_terms.hotline_term) desc,
                 length(hotline_terms.hotline_term) desc, hotline_terms.hotline_term
        limit 1
    ) as hotline_category_code,
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
from {{ ref('int_complaints__community_resolved') }} as complaints
left join {{ source('ops', 'text_classifications') }} as classifications
    on classifications.text_sha256 = complaints.text_sha256
left join {{ ref('issue_categories') }} as categories
    on categories.category_code = coalesce(classifications.category_code, 'other')
