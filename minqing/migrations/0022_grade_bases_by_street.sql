-- The base grades the complaint grades were built from (ops.complaint_grade_bases, migration 0016) per street
-- (issue 23): the sentiment code grades a community in its street, and 'unresolved', which collects the
-- complaints of any street, in each street apart, so one community × category has a base per street. The
-- recorded bases are dropped: the next build of marts.mart_complaint_grades grades every complaint again (its
-- table gains street_id then too) and records them anew.
truncate ops.complaint_grade_bases;
alter table ops.complaint_grade_bases add column street_id text not null;
alter table ops.complaint_grade_bases drop constraint complaint_grade_bases_pkey;
alter table ops.complaint_grade_bases add primary key (period_start, street_id, community_id, category_code);
