-- 0013: the seed files a build last loaded (issue 17). A daily `minqing run` skips loading the seeds
-- (and the tests of the seeds alone) when the files are the ones already loaded: on a street-day that
-- is a sixth of the dbt stage. Any edit of a seed file, its yml or dbt_project.yml changes the
-- fingerprint, and the next run loads them all again (minqing/transform.py).
create table ops.loaded_seeds (
    project      text        primary key,   -- the dbt project ('minqing')
    fingerprint  text        not null,      -- sha256 over the seed files and dbt_project.yml
    loaded_at    timestamptz not null default now()
);

grant select, insert, update, delete on ops.loaded_seeds to minqing_pipeline;
