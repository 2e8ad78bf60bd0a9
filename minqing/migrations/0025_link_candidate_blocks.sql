-- 0025: the blocks of linked reports, and soft blocking by the classifier's candidates (issue 19).
--
-- A report was compared only with the reports of its own community × category. When the classifier hesitates
-- (a leaking roof in a stairwell: property management or housing safety), a second report of the same
-- problem given the other category was never compared. The link stage now also puts a report in the blocks
-- of the categories among its candidates (fct_complaints.category_candidates at or above settings.yml
-- linking.candidate_probability), where it meets those blocks' own reports.
--
-- The blocks each linked report is in, as the link stage sees them, are kept here for later runs to find
-- their candidates by: its own category's (`own`) and its candidates'. `place_key` is the building that keeps
-- it from reports naming another, or 'community:?' when it has none (an address without a building, or a
-- channel whose address is the reporter's home: settings.yml linking.home_address_channels), so that a
-- day's report finds an earlier one exactly as it would had the two come in one run.
create table ops.problem_member_blocks (
    complaint_id  text not null,       -- a report of ops.problem_members (leaves with it: linking._detach)
    community_id  text not null,
    category_code text not null,       -- its own category (own) or a candidate category
    own           boolean not null,
    place_key     text not null,       -- fct_complaints.address_key of its building, or 'community:?'
    received_at   timestamptz not null,
    primary key (complaint_id, category_code)
);
create index on ops.problem_member_blocks (place_key, category_code, own, received_at);
create index on ops.problem_member_blocks (community_id, category_code, own, received_at);

-- A part of a link's evidence: whether the two reports have one category (false: one's category is among
-- the other's candidates, and the score paid linking.weights.other_category for it).
alter table ops.problem_links add column same_category boolean not null default true;

grant select, insert, update, delete on ops.problem_member_blocks to minqing_pipeline;
