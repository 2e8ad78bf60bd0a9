-- One row per problem (问题) that has reports (issue 19): what the link stage (minqing/analytics/linking.py)
-- joined across channels and days, with its first report, who found it first, its reports, people and
-- channels, and its state now. A problem merged into an older one is not a row of its own: it is listed in
-- the survivor's merged_problem_ids.
--
-- found_by_rounds_first (未诉先办): the first report was the street's own finding — a reception day,
-- door-knocking or a patrol (is_proactive) — before any resident called; lead_hours: how long before the
-- first resident's report (null when no resident has reported it, or a resident was first).
--
-- community_id and street_id: those of its first report (fct_problem_reports; the street as fct_complaints
-- places it).
--
-- Incremental: a build rebuilds the problems whose memberships or reports changed since the last one and
-- keeps the others (macros/problem_scope.sql).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ prepare_problem_scope() }}",
    post_hook=["{{ remember_problem_scope() }}", "{{ ensure_primary_key('problem_id') }}",
               "{{ ensure_index(['problem_id']) }}", "{{ ensure_index(['built_at']) }}"],
) }}
-- depends_on: {{ ref('stg_linking__problem_members') }}, {{ source('ops', 'problem_scope') }}, {{ source('ops', 'problem_changes') }}, {{ source('ops', 'complaint_day_changes') }}, {{ source('ops', 'aggregate_watermarks') }}

with

reports as (
    select * from {{ ref('fct_problem_reports') }} as reports
    where {{ in_problem_scope('reports.problem_id') }}
),

complainants as (
    select complaint_id, complainant_key from {{ ref('fct_complaints') }}
    where complaint_id in (select complaint_id from reports)
),

problems as (
    select * from {{ ref('stg_linking__problems') }} as problems
    where {{ in_problem_scope('problems.problem_id') }} or {{ in_problem_scope('problems.merged_into_problem_id') }}
),

first_reports as (
    select
        problem_id,
        complaint_id as first_complaint_id,
        received_at as first_received_at,
        source_channel as first_channel,
        is_proactive as first_is_proactive,
        proactive_method as first_proactive_method,
        community_id,
        street_id,
        category_code
    from reports
    where is_first_report
),

newest_reports as (
    select distinct on (problem_id) problem_id, status as newest_status, received_at as last_received_at
    from reports
    order by problem_id, received_at desc, complaint_id desc
),

buildings as (
    -- the building of its first report that names one (community:building)
    select distinct on (problem_id) problem_id, address_key
    from reports
    where address_key not like '%:?'
    order by problem_id, received_at, complaint_id
),

summaries as (
    select
        reports.problem_id,
        count(*) as report_count,
        count(distinct complainants.complainant_key) as complainant_count,
        count(distinct reports.source_channel) as channel_count,
        string_agg(distinct reports.source_channel, ',' order by reports.source_channel) as channels,
        count(*) filter (where reports.is_proactive) as proactive_report_count,
        count(*) filter (where reports.repeats_open_problem) as repeat_report_count,
        count(*) filter (where reports.is_open) as open_report_count,
        min(reports.received_at) filter (where not reports.is_proactive) as first_resident_report_at
    from reports
    left join complainants using (complaint_id)
    group by reports.problem_id
),

merges as (
    select
        merged_into_problem_id as problem_id,
        array_agg(problem_id order by problem_id) as merged_problem_ids,
        max(merged_at) as last_merged_at
    from problems
    where merged_into_problem_id is not null
    group by merged_into_problem_id
)

select
    first_reports.problem_id,
    first_reports.community_id,
    first_reports.street_id,
    first_reports.category_code,
    buildings.address_key,
    first_reports.first_complaint_id,
    first_reports.first_received_at,
    {{ bj_date('first_reports.first_received_at') }} as first_received_date,
    first_reports.first_channel,
    first_reports.first_is_proactive,
    first_reports.first_proactive_method,
    summaries.first_resident_report_at,
    first_reports.first_is_proactive as found_by_rounds_first,
    case
        when first_reports.first_is_proactive and summaries.first_resident_report_at is not null
            then round((extract(epoch from summaries.first_resident_report_at - first_reports.first_received_at)
                        / 3600)::numeric, 1)
    end as lead_hours,
    summaries.report_count,
    summaries.complainant_count,
    summaries.channel_count,
    summaries.channels,
    summaries.proactive_report_count,
    summaries.repeat_report_count,
    summaries.open_report_count,
    summaries.open_report_count > 0 as is_open,
    newest_reports.newest_status,
    newest_reports.last_received_at,
    problems.founded_by_complaint_id,
    problems.created_at,
    coalesce(merges.merged_problem_ids, '{}') as merged_problem_ids,
    merges.last_merged_at,
    {{ built_at() }} as built_at
from first_reports
join summaries using (problem_id)
join newest_reports using (problem_id)
join problems using (problem_id)
left join buildings using (problem_id)
left join merges using (problem_id)
