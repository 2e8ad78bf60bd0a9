-- 0018: the problems whose reports changed (issues 17 and 19: a daily cost flat in history).
--
-- fct_problem_reports, fct_problems and fct_complaint_links were rebuilt whole every run: a million rows
-- each at 1,000,000 complaints of history, for the day's few thousand problems that changed. They now
-- rebuild only the problems that may differ since their last build (macros/problem_scope.sql): those the
-- link stage touched, told by triggers on ops.problem_members that append here the problem of every
-- membership inserted, deleted or moved (the old and the new problem: a merge, a split, a report that
-- left), and those of the reports fct_complaints rewrote (ops.complaint_day_changes, 0014 and 0016).
create table ops.problem_changes (
    change_id  bigserial   primary key,
    problem_id text,                        -- null: every problem (the memberships were emptied: `minqing link --rebuild`)
    noted_at   timestamptz not null default now()
);

create function ops.note_problem_changes() returns trigger language plpgsql as $$
begin
    insert into ops.problem_changes (problem_id) select distinct problem_id from changed;
    return null;
end $$;

create function ops.note_problems_emptied() returns trigger language plpgsql as $$
begin
    insert into ops.problem_changes (problem_id) values (null);
    return null;
end $$;

create trigger note_problems_added after insert on ops.problem_members
    referencing new table as changed for each statement execute function ops.note_problem_changes();
create trigger note_problems_gone after delete on ops.problem_members
    referencing old table as changed for each statement execute function ops.note_problem_changes();
create trigger note_problems_moved_from after update on ops.problem_members
    referencing old table as changed for each statement execute function ops.note_problem_changes();
create trigger note_problems_moved_to after update on ops.problem_members
    referencing new table as changed for each statement execute function ops.note_problem_changes();
create trigger note_problems_emptied after truncate on ops.problem_members
    for each statement execute function ops.note_problems_emptied();

-- A follower of both change logs remembers the last change of each it has read.
alter table ops.aggregate_watermarks add column through_problem_change_id bigint;

-- Per problem mart, the problems its running build rebuilds: written by the build's pre-hook, read by
-- the build, emptied by its post-hook.
create table ops.problem_scope (
    relation   text not null,
    problem_id text not null,
    primary key (relation, problem_id)
);

grant select, insert, delete on ops.problem_changes, ops.problem_scope to minqing_pipeline;
grant usage on sequence ops.problem_changes_change_id_seq to minqing_pipeline;
grant execute on function ops.note_problem_changes(), ops.note_problems_emptied() to minqing_pipeline;
