-- A problem lies in one street (issue 23). The link stage compares reports within a community × category
-- block and never links reports of an unknown community (settings.yml linking.exclude_communities), so a
-- problem's reports share their community and its street. The briefing counts each street's problems
-- (rpt_dispatch_briefing's summary, problems_received) and the district's as the streets' rollup: the
-- streets add up to the district only while this holds.
select problem_id, count(distinct street_id) as streets, string_agg(distinct street_id, ', ') as street_ids
from {{ ref('fct_problem_reports') }}
group by problem_id
having count(distinct street_id) > 1
