-- 0011: the GX mart suites are gone (issue 16): what a mart promises is a dbt test in its yml, run in
-- the same build. Their watermarks in ops.file_watermarks ('mart_suite:<table>') are no longer read.
delete from ops.file_watermarks where name like 'mart_suite:%';
