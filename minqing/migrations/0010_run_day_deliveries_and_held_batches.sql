-- 0010: the run's day, when deliveries landed and what they cover, and batches held back (issue 15).
--
-- ops.pipeline_runs: one row per pipeline run (`minqing run`, a DAG run): the day D it is for, the
--   moment its marts are built as of (the end of D, Beijing time), when it ran, how it ended and its
--   summary. The briefing names the run's day; a dbt build without an explicit `as_of` var (e.g.
--   `minqing rebuild`) uses the newest run's.
--
-- ops.ingested_files gains, per delivery:
--   landed_at    the file's modification time when the loader first saw it: when it arrived in the
--                landing folder (a late delivery is one that landed after its due time,
--                seeds/expected_deliveries.csv);
--   covers_from, covers_to   the days the delivery covers, read from the date in its name (a daily
--                export `…20260715…`, a monthly workbook `…202607…`); null when the name holds none;
--   status 'held'  the file's rows are loaded but held back from staging and the marts: its batch
--                failed validation as a whole. A person releases it (the rows go on at the next run)
--                or rejects it (every row moves to raw.quarantine, stage 'review').
--
-- ops.file_decisions: every hold, release and reject, with its reason, who and when; never updated.

create table ops.pipeline_runs (
    run_name     text        primary key,
    run_day      date        not null,
    as_of        timestamptz not null,
    orchestrator text        not null check (orchestrator in ('cli', 'airflow')),
    state        text        not null check (state in ('running', 'success', 'failed')),
    started_at   timestamptz not null default now(),
    finished_at  timestamptz,
    summary      jsonb       not null default '{}'::jsonb
);
create index pipeline_runs_finished on ops.pipeline_runs (finished_at desc nulls last);

alter table ops.ingested_files
    add column landed_at   timestamptz,
    add column covers_from date,
    add column covers_to   date,
    add constraint covers_in_order check (covers_from <= covers_to);
update ops.ingested_files set landed_at = ingested_at where landed_at is null;

alter table ops.ingested_files drop constraint ingested_files_status_check;
alter table ops.ingested_files
    add constraint ingested_files_status_check check (status in ('loaded', 'quarantined', 'held'));

create table ops.file_decisions (
    decision_id bigserial   primary key,
    file_id     bigint      not null references ops.ingested_files (file_id),
    decision    text        not null check (decision in ('held', 'released', 'rejected')),
    reason      text        not null check (btrim(reason) <> ''),
    decided_by  text        not null check (btrim(decided_by) <> ''),
    run_name    text,                        -- the run that held the file
    decided_at  timestamptz not null default now()
);
create index file_decisions_file on ops.file_decisions (file_id, decision_id desc);

alter table raw.quarantine drop constraint quarantine_stage_check;
alter table raw.quarantine
    add constraint quarantine_stage_check check (stage in ('ingest', 'validate', 'review'));

grant select, insert, update on ops.pipeline_runs to minqing_pipeline;
grant select, insert on ops.file_decisions to minqing_pipeline;
grant usage, select on sequence ops.file_decisions_decision_id_seq to minqing_pipeline;
