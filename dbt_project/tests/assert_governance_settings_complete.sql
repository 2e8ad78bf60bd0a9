-- The settings the governance marts read are all there and make sense: a contact limit for every
-- time-limit basis, credits in [0, 1], weights summing to 1, every parameter and a green cut-off at 0
-- for every grade level and period grain, and one base period for complaint grades.

with

settings as (
    select setting, value from {{ ref('rate_settings') }}
),

numeric_settings as (
    select setting, cast(value as numeric) as value from settings
),

thresholds as (
    select * from {{ ref('sentiment_thresholds') }}
),

required_settings (setting) as (
    values ('satisfaction_credit_satisfied'), ('satisfaction_credit_basically_satisfied'),
           ('satisfaction_credit_dissatisfied'), ('weight_response'), ('weight_resolution'), ('weight_satisfaction')
),

levels (grade_level, period_grain) as (
    values ('community_category', 'week'), ('community_category', 'month'), ('community', 'week'), ('community', 'month')
),

required_parameters (component) as (
    values ('baseline_periods'), ('baseline_min_periods'), ('baseline_floor'), ('volume_min_count'), ('include_proactive')
)

select 'missing setting ' || setting as problem
from required_settings where setting not in (select setting from settings)

union all
select 'no contact and closing limits for time_limit_basis ' || bases.time_limit_basis
from (select distinct time_limit_basis from {{ ref('issue_categories') }}) as bases
left join {{ ref('time_limits') }} as limits using (time_limit_basis)
where limits.response_limit_hours is null or limits.closing_limit_hours is null

union all
select 'no channel is ranked (seeds/ranked_channels.csv is empty)'
where not exists (select 1 from {{ ref('ranked_channels') }})

union all
select 'credit out of [0, 1]: ' || setting
from numeric_settings where setting like 'satisfaction_credit_%' and value not between 0 and 1

union all
select 'weights sum to ' || sum(value)::text
from numeric_settings where setting like 'weight_%'
having sum(value) <> 1

union all
select 'missing parameter ' || required_parameters.component || ' for ' || levels.grade_level || '/' || levels.period_grain
from levels cross join required_parameters
where not exists (
    select 1 from thresholds t
    where (t.grade_level, t.period_grain, t.component, t.rule) = (levels.grade_level, levels.period_grain, required_parameters.component, 'parameter'))

union all
select 'no green cut-off at 0 for ' || levels.grade_level || '/' || levels.period_grain
from levels
where not exists (
    select 1 from thresholds t
    where (t.grade_level, t.period_grain, t.component, t.rule, t.value, t.grade)
        = (levels.grade_level, levels.period_grain, 'total', 'grade', 0, 'green'))

union all
select 'no inherit_category_rank for community/' || period_grain
from (values ('week'), ('month')) as grains (period_grain)
where not exists (
    select 1 from thresholds t
    where (t.grade_level, t.period_grain, t.component, t.rule) = ('community', grains.period_grain, 'inherit_category_rank', 'parameter'))

union all
select 'complaint rows must name exactly one base period grain'
from thresholds where grade_level = 'complaint'
having count(distinct period_grain) <> 1
