-- 0003: what the issue forecast (问题预判模型, minqing/forecast.py) writes.
--
-- ops.forecasts: per forecast day (as_of, the last complete day the model saw) × community × category,
--   the expected volume of the next days, the pair's own baseline, their ratio and the early-warning
--   flag. The rule that sets the flag (margin, minimum expected volume) lives in minqing/settings.yml;
--   its values are stored on every row, and dbt (mart_early_warnings) reads the flag, never the rule.
--   Rewritten whole for an as_of, in one transaction.
-- ops.forecast_backtests: every rolling-origin backtest, per category and 'overall': the model's mean
--   absolute error on 7-day volumes against two seasonal-naive forecasts.

create table ops.forecasts (
    as_of               date          not null,   -- last complete day of history the forecast saw
    community_id        text          not null,
    category_code       text          not null,
    horizon_start       date          not null,   -- as_of + 1
    horizon_end         date          not null,   -- as_of + horizon_days
    expected_volume     numeric(10, 2) not null,  -- expected complaints over the horizon
    baseline_volume     numeric(10, 2) not null,  -- the pair's own mean volume per horizon over baseline_days
    baseline_days       integer       not null,   -- days of history the baseline averages
    surge_ratio         numeric(10, 2) not null,  -- expected_volume / greatest(baseline_volume, baseline_floor)
    recent_volume       integer       not null,   -- complaints of the last trend_days days
    trend_ratio         numeric(10, 2),           -- recent daily level over the long-run daily level
    season_zh           text,                     -- the season of the horizon (汛期主汛期, 供暖季初期, …)
    is_early_warning    boolean       not null,   -- the rule of settings.yml forecast.early_warning
    warning_margin      numeric(6, 2) not null,   -- the rule's values in force when written
    min_expected_volume numeric(8, 2) not null,
    baseline_floor      numeric(8, 2) not null,
    model_version       text          not null,
    created_at          timestamptz   not null default now(),
    primary key (as_of, community_id, category_code),
    check (horizon_end >= horizon_start and horizon_start > as_of),
    check (expected_volume >= 0 and baseline_volume >= 0 and surge_ratio >= 0)
);

create table ops.forecast_backtests (
    run_at               timestamptz   not null,
    category_code        text          not null,  -- a category, or 'overall'
    model_mae            numeric(10, 3) not null, -- mean |forecast − actual| of 7-day volumes per community × category × origin
    naive_week_mae       numeric(10, 3) not null, -- forecast = the previous 7 days' volume
    naive_year_mae       numeric(10, 3),          -- forecast = the same 7 days 52 weeks earlier; null when no pair has one
    model_mae_year_pairs numeric(10, 3),          -- the model's MAE on the pairs that have a last year, to compare like with like
    origins              integer       not null,
    pairs                integer       not null,  -- community × category × origin compared
    year_pairs           integer       not null,  -- of which with a same-period-last-year value
    actual_mean          numeric(10, 3) not null, -- mean 7-day volume of the pairs, for scale
    beats_naive_week     boolean       not null,
    first_origin         date          not null,
    last_origin          date          not null,
    history_days         integer       not null,
    model_version        text          not null,
    primary key (run_at, category_code)
);
