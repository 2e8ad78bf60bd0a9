-- A part of a link's evidence (issue 19): the kinds of problem both reports' texts name (the seed
-- problem_kinds: 蚊虫鼠害 for 蚊子太多了 and 积存污水蚊虫滋生). Labels only: no text.
alter table ops.problem_links add column shared_kinds text[] not null default '{}';
