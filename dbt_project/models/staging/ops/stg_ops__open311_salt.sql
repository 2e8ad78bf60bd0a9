-- The per-warehouse secret of the Open311 public ids (ops.open311_salt, migration 0020): one row. A view in
-- staging, which no reader role can reach; rpt_open311_requests hashes it with each complaint id.
with

source as (
    select * from {{ source('ops', 'open311_salt') }}
)

select salt from source
