-- 待复核分类: the complaints whose category the classifier was unsure of (category_needs_review) and that
-- no person has labelled yet, open or closed, oldest first — the list `minqing review export` writes
-- for a person to label. A complaint leaves it at the first build after its label is imported.
-- Age is counted at the run's as-of moment (macros/as_of.sql), like the other marts' "now".

with

as_of as (
    select {{ as_of() }} as as_of_at
)

select
    complaints.complaint_id,
    complaints.source_channel,
    complaints.community_id,
    complaints.street_id,
    communities.community_name,
    complaints.received_at,
    floor(extract(epoch from as_of.as_of_at - complaints.received_at) / 86400)::integer as age_days,
    complaints.status,
    -- phone numbers are already redacted in fct_complaints; one line for a spreadsheet cell
    left(regexp_replace(complaints.complaint_text, '\s+', ' ', 'g'), 120) as text_excerpt,
    complaints.category_code,
    categories.category_name_zh,
    complaints.category_confidence,
    {%- for rank in range(3) %}
    complaints.category_candidates -> {{ rank }} ->> 'category_code' as candidate_{{ rank + 1 }}_code,
    (complaints.category_candidates -> {{ rank }} ->> 'probability')::numeric(4, 3) as candidate_{{ rank + 1 }}_probability,
    {%- endfor %}
    complaints.text_sha256
from {{ ref('fct_complaints') }} as complaints
cross join as_of
join {{ ref('dim_community') }} as communities on communities.community_id = complaints.community_id
join {{ ref('dim_issue_category') }} as categories on categories.category_code = complaints.category_code
where complaints.category_needs_review and complaints.category_source = 'model'
order by complaints.received_at, complaints.complaint_id
