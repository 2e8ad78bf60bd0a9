-- The evidence of each problem (issue 19): one row per pair of reports the link stage linked, the later
-- report first, with its problem, the score, the parts of the score and the rule that linked them
-- (settings.yml `linking`; minqing/analytics/linking.py). Scores, flags and hours only: no text, address
-- or person.

with

links as (
    select * from {{ ref('stg_linking__problem_links') }}
),

reports as (
    select complaint_id, problem_id, community_id, category_code, received_at
    from {{ ref('fct_problem_reports') }}
)

select
    links.complaint_id,
    links.linked_to_complaint_id,
    reports.problem_id,
    reports.community_id,
    reports.category_code,
    reports.received_at,
    links.link_rule,
    links.link_score,
    links.text_score,
    links.address_score,
    links.same_building,
    links.same_complainant,
    links.hours_apart,
    links.linked_at
from links
join reports using (complaint_id)
