-- 0017: problems — the reports of one problem linked across channels and days (issue 19).
--
-- The link stage (minqing/analytics/linking.py) runs after fct_complaints is built: it compares each
-- new or changed report with the reports of its community × category × time window (and of the problems
-- still open there), links the pairs it scores above the threshold and joins linked reports into one
-- problem. Its state lives here, not in dbt: a problem's id is made once, from the report that founded
-- it, and survives re-runs, backfills and a full refresh of the marts (fct_problems, fct_problem_reports
-- and fct_complaint_links are built from these tables).

-- One row per problem ever made. A problem that a later link joined to an older one keeps its row,
-- with the problem it went into: the older survives, the merge stays on record.
create table ops.problems (
    problem_id  text primary key,      -- 'P' || 16 hex digits of md5 of the founding complaint's id
    founded_by  text not null,         -- complaint_id of the report that made it
    founded_at  timestamptz not null,  -- that report's moment of receipt
    created_at  timestamptz not null default now(),
    merged_into text references ops.problems (problem_id),
    merged_at   timestamptz,
    merged_by   text                   -- complaint_id of the report whose links joined the two
);
create index on ops.problems (merged_into);

-- Which problem each report belongs to: every resident demand of fct_complaints has exactly one row once
-- the link stage has run. `link_key` is an md5 of what linking read (community, category, building,
-- address, text, moment, complainant); a report whose key changed (a new category from a review, a
-- corrected address) is linked again.
create table ops.problem_members (
    complaint_id text primary key,
    problem_id   text not null references ops.problems (problem_id),
    link_key     text not null,
    linked_at    timestamptz not null default now()
);
create index on ops.problem_members (problem_id);

-- The pairs linked, the later report first, with the score and its parts: the evidence of a problem.
-- No text, address or person: scores, flags and the hours between the two.
create table ops.problem_links (
    complaint_id     text not null,    -- the later report (by moment of receipt, then id)
    linked_to        text not null,    -- the earlier one
    rule             text not null,    -- 'same_resident' | 'similar_report'
    score            real not null,
    text_score       real not null,
    address_score    real not null,
    same_building    boolean,          -- null: one of the two names no building
    same_complainant boolean not null,
    hours_apart      real not null,
    linked_at        timestamptz not null default now(),
    primary key (complaint_id, linked_to)
);
create index on ops.problem_links (linked_to);

grant select, insert, update, delete on ops.problems, ops.problem_members, ops.problem_links to minqing_pipeline;
