-- The classifier's result per distinct complaint text (ops.text_classifications, written by
-- `minqing classify`): category, confidence, evidence, the three candidates, whether a person should
-- review it, and when it was classified. Already in the warehouse's names; a plain view, which
-- Postgres merges into the queries that read it (int_complaints__categorised relies on that).
with

source as (
    select * from {{ source('ops', 'text_classifications') }}
)

select * from source
