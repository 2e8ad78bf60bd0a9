-- Per community and Beijing month (of receipt): how much of the intake repeats a problem still open
-- (重复诉求率), and how many problems the street's own rounds found before any resident called (未诉先办率),
-- how far ahead (issue 19). Every community with a report or a problem in the month, in its street; each
-- street as a whole on community_id 'street' (rows it sums, shares recomputed; issue 23: one per street, a
-- district's streets apart). A problem counts in the street and community of its first report.
--
--   repeat_rate        = repeat_reports / reports (reports repeating an open problem of theirs)
--   found_first_rate   = problems_found_first / problems (problems first reported in the month)
--   median_lead_hours  = the median of lead_hours over the problems found first that a resident reported later

with

reports as (
    select
        street_id,
        community_id,
        date_trunc('month', received_date)::date as month_start,
        repeats_open_problem
    from {{ ref('fct_problem_reports') }}
),

problems as (
    select
        street_id,
        community_id,
        date_trunc('month', first_received_date)::date as month_start,
        found_by_rounds_first,
        lead_hours
    from {{ ref('fct_problems') }}
),

report_figures as (
    select
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        month_start,
        count(*) as reports,
        count(*) filter (where repeats_open_problem) as repeat_reports
    from reports
    group by grouping sets ((street_id, community_id, month_start), (street_id, month_start))
),

problem_figures as (
    select
        street_id,
        case when grouping(community_id) = 1 then 'street' else community_id end as community_id,
        month_start,
        count(*) as problems,
        count(*) filter (where found_by_rounds_first) as problems_found_first,
        count(lead_hours) as problems_found_first_then_reported,
        percentile_cont(0.5) within group (order by lead_hours) as median_lead_hours
    from problems
    group by grouping sets ((street_id, community_id, month_start), (street_id, month_start))
)

select
    community_id,
    street_id,
    month_start,
    coalesce(report_figures.reports, 0) as reports,
    coalesce(report_figures.repeat_reports, 0) as repeat_reports,
    round(report_figures.repeat_reports::numeric / nullif(report_figures.reports, 0), 4) as repeat_rate,
    coalesce(problem_figures.problems, 0) as problems,
    coalesce(problem_figures.problems_found_first, 0) as problems_found_first,
    round(problem_figures.problems_found_first::numeric / nullif(problem_figures.problems, 0), 4) as found_first_rate,
    coalesce(problem_figures.problems_found_first_then_reported, 0) as problems_found_first_then_reported,
    round(problem_figures.median_lead_hours::numeric, 1) as median_lead_hours
from report_figures
full join problem_figures using (street_id, community_id, month_start)
