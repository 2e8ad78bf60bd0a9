-- 0012: the report-shaped models are rpt_* (issue 16): marts.mart_dispatch_briefing is now
-- marts.rpt_dispatch_briefing and marts.mart_early_warnings marts.rpt_early_warnings. dbt does not
-- drop a model's table when the model is renamed; the old tables would stay readable with the last
-- figures they were built with, so they go (the next build writes the new ones).
drop table if exists marts.mart_dispatch_briefing;
drop table if exists marts.mart_early_warnings;
