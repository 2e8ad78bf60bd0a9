-- Attach the category, the hotline's own classification mapped to our codes for comparison, the
-- suggested handling unit and the due time. The category is a person's when someone labelled the
-- complaint (`minqing review import`: the newest row of ops.classification_reviews per complaint
-- wins), else the classifier's stored result for its text, else 'other' (unclassified); the
-- classifier's own code is kept beside it as model_category_code.
--
-- Written as one select with joins on keys and per-record subqueries (no CTEs): Postgres then merges
-- this view into the query reading it, so a filter on complaint_id from an incremental build reaches
-- int_complaints__latest's index and only the rebuilt records are categorised. The newest label is a
-- join on complaint_id with an anti-join on a newer label of the same complaint, which Postgres also
-- merges (a DISTINCT ON or LIMIT subquery would not be).

select
    complaints.*,
    coalesce(reviews.category_code, classifications.category_code, 'other') as category_code,
    case
        when reviews.category_code is not null then 'human'
        when classifications.category_code is not null then 'model'
        else 'unclassified'
    end as category_source,
    coalesce(classifications.category_code, 'other') as model_category_code,
    coalesce(classifications.confidence, 0) as category_confidence,
    coalesce(classifications.evidence, '{}') as category_evidence,
    coalesce(classifications.candidates, '[]'::jsonb) as category_candidates,
    reviews.category_code is null and coalesce(classifications.needs_review, false) as category_needs_review,
    reviews.reviewed_by as category_reviewed_by,
    reviews.reviewed_at as category_reviewed_at,
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
    limits.closing_limit_hours as time_limit_hours,
    coalesce(complaints.dispatched_at, complaints.received_at)
        + limits.closing_limit_hours * interval '1 hour' as due_at,
    -- the building (its number) or the place (小区东门), read from the address after the district, street
    -- and community: the same place however the address begins
    complaints.community_id || ':' || coalesce(
        substring(place.within from '([0-9]+)\s*(?:号楼|栋|幢|号院)'),
        substring(place.within from '^([0-9]+)-'),
        nullif(regexp_replace(place.within, '\s|[0-9]+(单元|室|号)?$', '', 'g'), ''),
        '?'
    ) as address_key
from {{ ref('int_complaints__community_resolved') }} as complaints
left join (
    -- each community's aliases, the longest first: a record looks through its own community's few (a scan
    -- of every alias for each record cost 4 s a city-day of 300 streets)
    select community_id, array_agg(alias order by length(alias) desc, alias) as aliases
    from {{ ref('community_aliases') }}
    group by community_id
) as community_aliases on community_aliases.community_id = complaints.community_id
cross join lateral (
    -- the address after the longest alias of its community that it contains, else after the prefixes
    select coalesce(
        (select substr(stripped.address, strpos(stripped.address, listed.alias) + length(listed.alias))
         from unnest(community_aliases.aliases) with ordinality as listed (alias, position)
         where strpos(stripped.address, listed.alias) > 0
         order by listed.position
         limit 1),
        stripped.address) as within
    -- offset 0: the stripped address computed once a record (pulled up, PostgreSQL strips it again for each
    -- use; the prefixes alternate every street's name)
    from (select regexp_replace(coalesce(complaints.address, ''), {{ address_prefixes() }}, '') as address
          offset 0) as stripped
) as place
left join {{ ref('stg_ops__text_classifications') }} as classifications
    on classifications.text_sha256 = complaints.text_sha256
left join {{ ref('stg_ops__classification_reviews') }} as reviews
    on reviews.complaint_id = complaints.complaint_id
    and not exists (
        select 1
        from {{ ref('stg_ops__classification_reviews') }} as newer
        where newer.complaint_id = reviews.complaint_id and newer.review_id > reviews.review_id
    )
left join {{ ref('issue_categories') }} as categories
    on categories.category_code = coalesce(reviews.category_code, classifications.category_code, 'other')
left join {{ ref('time_limits') }} as limits
    on limits.time_limit_basis = categories.time_limit_basis
