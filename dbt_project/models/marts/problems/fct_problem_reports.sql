-- One row per resident demand with the problem (问题) it belongs to (issue 19): the link stage
-- (minqing/analytics/linking.py) joins the reports of one problem across channels and days, and this
-- table is its answer per report, in the order the problem's reports came in.
--
-- repeats_open_problem: an earlier report of the same problem was still open when this one came in (not
-- closed by then, not cancelled) — the report repeats an open problem (重复诉求). The first report of a
-- problem never repeats one.
--
-- fct_complaints cannot carry problem_id itself: the link stage reads the community and category that
-- fct_complaints resolves, so it runs after it; join on complaint_id. A complaint the stage has not linked
-- yet (a build without the stage, `minqing rebuild` before the next run) is missing here until it runs
-- (tests/assert_every_demand_in_one_problem.sql).
--
-- Incremental: a build rebuilds the problems whose memberships or reports changed since the last one and
-- keeps the others (macros/problem_scope.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ prepare_problem_scope() }}",
    post_hook=["{{ remember_problem_scope() }}", "{{ ensure_primary_key('complaint_id') }}",
               "{{ ensure_index(['problem_id']) }}", "{{ ensure_index(['built_at']) }}"],
) }}
-- depends_on: {{ source('ops', 'problem_scope') }}, {{ source('ops', 'problem_changes') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}

with

members as (
    select * from {{ ref('stg_linking__problem_members') }} as members
    where {{ in_problem_scope('members.problem_id') }}
),

complaints as (
    select * from {{ ref('fct_complaints') }}
    where complaint_id in (select complaint_id from members)
),

reports as (
    select
        complaints.*,
        members.problem_id,
        members.linked_at,
        -- when the report stopped being open ('infinity': still open; a cancelled one never was)
        case
            when complaints.closed_at is not null then complaints.closed_at
            when complaints.status = 'cancelled' then '-infinity'::timestamptz
            else 'infinity'::timestamptz
        end as open_until
    from complaints
    join members using (complaint_id)
)

select
    complaint_id,
    problem_id,
    row_number() over problem_order as report_number,
    row_number() over problem_order = 1 as is_first_report,
    coalesce(max(open_until) over earlier_reports > received_at, false) as repeats_open_problem,
    source_channel,
    received_at,
    received_date,
    community_id,
    street_id,
    category_code,
    address_key,
    is_proactive,
    proactive_method,
    status,
    open_until = 'infinity'::timestamptz as is_open,
    linked_at,
    {{ built_at() }} as built_at
from reports
window
    problem_order as (partition by problem_id order by received_at, complaint_id),
    earlier_reports as (partition by problem_id order by received_at, complaint_id
                        rows between unbounded preceding and 1 preceding)
