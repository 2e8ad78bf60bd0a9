-- The effect of each intervention of the seed on residents' complaints (ops.intervention_effects, written by
-- the effects stage between the two halves of the build: dbt_project/selectors.yml).
with

source as (
    select * from {{ source('effects', 'intervention_effects') }}
),

renamed as (
    select
        intervention_id,
        category_code,
        method,
        community_ids,
        start_date,
        end_date,
        first_week,
        last_week,
        pre_weeks,
        post_weeks,
        effect_pct,
        ci_low_pct,
        ci_high_pct,
        level as interval_level,
        p_value,
        effect_per_month,
        expected_per_month,
        time_placebo_p,
        pre_misfit,
        placebo_count,
        donor_ids,
        donor_weights,
        rates as synthetic_rates,
        warnings,
        reading,
        estimated_at
    from source
)

select * from renamed
