-- The cells a daily aggregate rebuilds (ops.aggregate_scope, macros/daily_scope.sql in_daily_scope) are looked
-- up per row by day and community × category, or by whole day. Indexed by day alone (0014), a day's cells
-- were scanned for each row: a city's 300 streets have some ten thousand cells a day, and
-- fct_daily_reports_by_key took 25 s of a city-day (minqing bench --streets 300, issue 23).
create index aggregate_scope_cell on ops.aggregate_scope (relation, received_date, community_id, category_code);
create index aggregate_scope_whole_day on ops.aggregate_scope (relation, received_date) where whole_day;
