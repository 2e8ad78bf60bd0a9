-- 0019: what the effects stage (minqing/analytics/intervention_effects.py, issue 20) writes: the effect of
-- each intervention of the seed (dbt_project/seeds/interventions.csv, reference.interventions) on residents'
-- complaints, against the street's other communities, per category it targets and per method. dbt's
-- mart_intervention_effects publishes it with the intervention's own words.
--
-- One row per intervention × category × method:
--   category_code  a category the intervention targets, or 'all': every category it targets, together
--                  (every category at all when it targets all); the row `minqing effect --intervention`
--                  prints.
--   method         poisson_did (the main estimate: interval and p-value from placebos in space and time) or
--                  synthetic_control (the second: donor weights, pre-period misfit, its own permutation p).
-- An intervention whose inputs (its weekly panel, its seed row, the settings, the model's version) have not
-- changed since its rows were written keeps them (inputs_fingerprint); rows of an intervention no longer in
-- the seed are deleted. No personal data: community ids, figures and words.

create table ops.intervention_effects (
    intervention_id     text           not null,
    category_code       text           not null,
    method              text           not null check (method in ('poisson_did', 'synthetic_control')),
    community_ids       text[]         not null,  -- the treated communities (taken together as one)
    start_date          date           not null,
    end_date            date,
    first_week          date,                     -- the first and last complete weeks (Mondays) read
    last_week           date,
    pre_weeks           integer        not null,
    post_weeks          integer        not null,
    effect_pct          numeric(9, 1),            -- null: not estimated (warnings say why) or beyond reading
    ci_low_pct          numeric(9, 1),            -- poisson_did only
    ci_high_pct         numeric(9, 1),
    level               numeric(4, 3),            -- the interval's (settings.yml effects.level)
    p_value             numeric(6, 4),
    effect_per_month    numeric(10, 2),           -- complaints a month the intervention made (negative: fewer); poisson_did
    expected_per_month  numeric(10, 2),           -- what the model expects a month without it, after the start
    time_placebo_p      numeric(6, 4),            -- poisson_did: the fake start in the middle of the pre-period
    pre_misfit          numeric(10, 4),           -- synthetic_control: root mean squared pre-period gap (indexed series)
    placebo_count       integer,                  -- placebo estimates behind p_value
    donor_ids           text[]         not null,  -- the communities compared with
    donor_weights       jsonb,                    -- synthetic_control: community_id -> weight
    rates               text,                     -- synthetic_control: complaints | per_1000_households
    warnings            text[]         not null,
    reading             text,                     -- one paragraph in plain words
    inputs_fingerprint  text           not null,
    estimated_at        timestamptz    not null default now(),
    primary key (intervention_id, category_code, method),
    check (pre_weeks >= 0 and post_weeks >= 0),
    check (p_value is null or (p_value > 0 and p_value <= 1))
);
