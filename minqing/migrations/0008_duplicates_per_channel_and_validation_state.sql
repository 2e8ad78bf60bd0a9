-- 0008: when a file is a duplicate, and which loaded files still wait for validation.
--
-- Duplicates are told per channel, and only for content that holds records. ops.ingested_files was
-- unique on sha256 alone, across channels, and counted content quarantined whole as seen: a
-- reception CSV misfiled under hotline/ (quarantined there) made the real reception/ copy a
-- "duplicate" that never loaded, an empty mini-program pull was a "duplicate of" an empty hotline
-- file, and content quarantined whole could never load, not even after a reader fix.
-- content_key is now the identity of a delivery:
--   <channel>:<sha256>          content with records (rows_in > 0): a byte-identical copy in the
--                               same channel, under any name, is a duplicate;
--   <channel>:<sha256>:<path>   content without records (an empty or header-only file, a file
--                               quarantined whole): each path is a delivery of its own. The loader
--                               reads such content again when it is seen again, and loads it as a
--                               new file once the reader can read records from it.
--
-- validated_at: when the channel suite last validated the file's rows without the batch failing.
-- Every run validates each loaded file that has none yet, whoever loaded it (`minqing ingest`
-- alone, a DAG run whose validate task failed).

alter table ops.ingested_files drop constraint if exists ingested_files_sha256_key;

alter table ops.ingested_files
    add column content_key text generated always as (
        channel || ':' || sha256 || case when rows_in = 0 then ':' || path else '' end) stored;
create unique index ingested_files_content_key on ops.ingested_files (content_key);
create index ingested_files_channel_sha256 on ops.ingested_files (channel, sha256);

alter table ops.ingested_files add column validated_at timestamptz;

-- Files validated before this migration: those in the batch of a validation run whose channel
-- did not fail; files with no rows left to check count as validated.
update ops.ingested_files as f
   set validated_at = coalesce(
           (select max(r.finished_at)
              from ops.validation_runs as r
             where r.target like 'raw.%'
               and r.batch -> 'file_ids' @> to_jsonb(f.file_id)
               and not coalesce((r.batch ->> 'channel_failed')::boolean, false)),
           case when f.rows_loaded = 0 then f.ingested_at end);

create index ingested_files_awaiting_validation on ops.ingested_files (channel) where validated_at is null;
