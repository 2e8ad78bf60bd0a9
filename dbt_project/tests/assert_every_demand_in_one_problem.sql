{{ config(severity='warn') }}
-- Every resident demand belongs to exactly one problem once the link stage has run (issue 19): no
-- complaint of fct_complaints is missing from fct_problem_reports, none is there twice (its unique test),
-- and no problem lists a complaint fct_complaints no longer has. fct_complaints is named, not a ref
-- (macros/relations.sql): the test runs once, after the link stage, with fct_problem_reports. A warning, not
-- an error: a `dbt build` of the whole project without the stage between its parts (the tests' builds) leaves
-- the newest complaints unlinked until the next run links them, and the marts are right about the rest.
-- Anti-joins (`not exists`): `not in (subquery)` becomes a nested loop once the subquery outgrows work_mem
-- (414 s on 160,000 complaints in the bench). The complaints fct_complaints' newest build wrote are
-- those the link stage had to place (macros/newest_build.sql).
select complaints.complaint_id, 'not linked' as problem
from {{ newest_build(relation_of('fct_complaints')) }} as complaints
where not exists (select from {{ ref('fct_problem_reports') }} as reports
                  where reports.complaint_id = complaints.complaint_id)
union all
select members.complaint_id, 'linked but gone from fct_complaints'
from {{ ref('stg_linking__problem_members') }} as members
where not exists (select from {{ relation_of('fct_complaints') }} as complaints
                  where complaints.complaint_id = members.complaint_id)
