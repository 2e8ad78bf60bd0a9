-- Did it work? The effect of each intervention the street recorded (reference/interventions.csv) on residents'
-- complaints, against the street's other communities: one row per intervention × category × method, estimated
-- by the effects stage (minqing/analytics/effects.py, written to ops.intervention_effects) and named here in
-- the street's words. Interventions no longer in the seed are not shown. street_id (issue 23): the street of
-- the intervention's communities (dim_community); 'unresolved' when they lie in more than one street (a
-- district's own intervention, no single street's) or none is known.
with

effects as (
    select * from {{ ref('stg_effects__intervention_effects') }}
),

interventions as (
    select * from {{ ref('interventions') }}
),

communities as (
    select community_id, community_name, street_id from {{ ref('dim_community') }}
),

categories as (
    select category_code, category_name_zh from {{ ref('dim_issue_category') }}
),

targeted as (
    -- the categories each intervention targets, in the seed's order
    select
        i.intervention_id,
        string_agg(coalesce(c.category_name_zh, t.code), '、' order by t.position) as category_names,
        count(*) as category_count
    from interventions as i
    cross join lateral unnest(string_to_array(replace(i.categories, ' ', ''), ';')) with ordinality as t (code, position)
    left join categories as c on c.category_code = t.code
    where i.categories <> 'all'
    group by i.intervention_id
),

named as (
    select
        e.intervention_id,
        i.name as intervention_name,
        i.what,
        i.dates_invented,
        coalesce((
            select min(c.street_id)
            from unnest(e.community_ids) as member (community_id)
            join communities as c on c.community_id = member.community_id
            having count(distinct c.street_id) = 1 and count(*) filter (where c.street_id is null) = 0
        ), 'unresolved') as street_id,
        e.community_ids,
        (
            select string_agg(coalesce(c.community_name, member.community_id), '、' order by member.position)
            from unnest(e.community_ids) with ordinality as member (community_id, position)
            left join communities as c on c.community_id = member.community_id
        ) as community_names,
        e.start_date,
        e.end_date,
        e.category_code,
        case
            when e.category_code <> 'all' then coalesce(cat.category_name_zh, e.category_code)
            when i.categories = 'all' then '全部类别'
            when t.category_count = 1 then t.category_names
            else '目标类别合计（' || t.category_names || '）'
        end as category_name_zh,
        e.method,
        case e.method when 'poisson_did' then '双重差分（泊松）' else '合成控制' end as method_zh,
        e.effect_pct,
        e.ci_low_pct,
        e.ci_high_pct,
        e.interval_level,
        e.p_value,
        e.p_value < 1 - e.interval_level as is_significant,
        e.effect_per_month,
        e.expected_per_month,
        e.pre_weeks,
        e.post_weeks,
        e.first_week,
        e.last_week,
        e.time_placebo_p,
        e.pre_misfit,
        e.placebo_count,
        e.donor_ids,
        e.donor_weights,
        e.synthetic_rates,
        e.warnings,
        cardinality(e.warnings) as warning_count,
        e.reading,
        e.estimated_at
    from effects as e
    inner join interventions as i on i.intervention_id = e.intervention_id
    left join categories as cat on cat.category_code = e.category_code
    left join targeted as t on t.intervention_id = e.intervention_id
)

select * from named
