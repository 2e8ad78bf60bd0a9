-- 0006: what the incremental models and the classifier need to work on a day's data, not the history.
--
-- ops.incremental_settings: per incremental dbt model, the fingerprint of the settings its rows were
--   built with (the seeds it reads, its vars, the hashing key's fingerprint). A model whose settings
--   changed since its last build empties itself first and rebuilds (macros/incremental.sql), so an
--   edited seed or a rotated key never leaves stale rows behind an incremental build.
-- ops.file_watermarks: the newest loaded file a file-driven step has dealt with, by name: the
--   classifier per version ('classifier:<version>': a run classifies the texts of newer files only,
--   new rules start again from none) and the mart suites per table ('mart_suite:<table>': the rows
--   of newer files are validated).
-- An index on ops.text_classifications.classified_at: fct_complaints picks up reclassified texts by it.
create table ops.incremental_settings (
    relation     text        primary key,   -- schema.table of the dbt model
    fingerprint  text        not null,      -- md5 over the seeds, vars and key fingerprint it depends on
    recorded_at  timestamptz not null default now()
);

create table ops.file_watermarks (
    name         text        primary key,
    max_file_id  bigint      not null,
    recorded_at  timestamptz not null default now()
);

create index on ops.text_classifications (classified_at);

grant select, insert, update, delete on ops.incremental_settings, ops.file_watermarks to minqing_pipeline;
