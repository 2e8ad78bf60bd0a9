-- The evidence of each problem (issue 19): one row per pair of reports the link stage linked, the later
-- report first, with its problem, the score, the parts of the score and the rule that linked them
-- (settings.yml `linking`; minqing/analytics/linking.py). Scores, flags and hours only: no text, address
-- or person.
--
-- Incremental: a build rebuilds the links of the problems whose memberships or reports changed since the
-- last one and keeps the others (macros/problem_scope.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ prepare_problem_scope() }}",
    post_hook=["{{ remember_problem_scope() }}", "{{ ensure_index(['complaint_id']) }}",
               "{{ ensure_index(['problem_id']) }}", "{{ ensure_index(['built_at']) }}"],
) }}
-- depends_on: {{ ref('stg_linking__problem_members') }}, {{ source('ops', 'problem_scope') }}, {{ source('ops', 'problem_changes') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}

with

reports as (
    select complaint_id, problem_id, community_id, street_id, category_code, received_at
    from {{ ref('fct_problem_reports') }} as reports
    where {{ in_problem_scope('reports.problem_id') }}
),

links as (
    select * from {{ ref('stg_linking__problem_links') }}
    where complaint_id in (select complaint_id from reports)
)

select
    links.complaint_id,
    links.linked_to_complaint_id,
    reports.problem_id,
    reports.community_id,
    reports.street_id,
    reports.category_code,
    reports.received_at,
    links.link_rule,
    links.link_score,
    links.text_score,
    links.address_score,
    links.same_building,
    links.same_complainant,
    links.shared_kinds,
    links.same_category,
    links.hours_apart,
    links.linked_at,
    {{ built_at() }} as built_at
from links
join reports using (complaint_id)
