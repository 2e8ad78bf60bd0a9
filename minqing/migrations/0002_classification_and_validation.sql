-- 0002: what the Python steps between ingestion and dbt write.
--
-- ops.text_classifications: one row per distinct complaint text (keyed by the SHA-256 of the text,
--   so no text is copied out of raw), with the category the classifier chose, its confidence and
--   the words that decided it. dbt joins it on the same hash.
-- ops.validation_runs / ops.validation_results: every GX validation, per run, suite, expectation.

create table ops.text_classifications (
    text_sha256        text primary key,       -- encode(sha256(convert_to(text, 'UTF8')), 'hex')
    category_code      text        not null,
    confidence         numeric(4, 3) not null check (confidence between 0 and 1),
    evidence           text[]      not null default '{}',
    classifier_version text        not null,   -- hash of the rules it used
    classified_at      timestamptz not null default now()
);

create table ops.validation_runs (
    run_id        bigserial primary key,
    run_name      text        not null,
    suite_name    text        not null,
    target        text        not null,         -- table or model validated
    batch         jsonb       not null default '{}'::jsonb,  -- which rows: file ids, dates
    success       boolean     not null,
    evaluated     integer     not null,
    successful    integer     not null,
    rows_checked  bigint,
    rows_quarantined bigint   not null default 0,
    started_at    timestamptz not null,
    finished_at   timestamptz not null default now()
);

create table ops.validation_results (
    run_id             bigint  not null references ops.validation_runs (run_id) on delete cascade,
    expectation_type   text    not null,
    column_name        text,
    kwargs             jsonb   not null default '{}'::jsonb,
    success            boolean not null,
    element_count      bigint,
    unexpected_count   bigint,
    unexpected_percent numeric,
    observed_value     jsonb
);
create index on ops.validation_results (run_id);
