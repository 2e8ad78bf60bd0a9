-- Every delivery the loader recorded (ops.ingested_files): where it landed and when, the days its
-- name says it covers, its row counts and status, and for a held file the hold that stands.
with

source as (
    select * from {{ source('ops', 'ingested_files') }}
),

holds as (
    select distinct on (file_id) file_id, reason, decided_at
    from {{ source('ops', 'file_decisions') }}
    where decision = 'held'
    order by file_id, decision_id desc
),

renamed as (
    select
        source.file_id,
        source.channel,
        source.path,
        source.status,
        source.rows_in,
        source.rows_loaded,
        source.rows_quarantined,
        source.reason as quarantine_reason,
        source.landed_at,
        source.ingested_at,
        source.covers_from,
        source.covers_to,
        case when source.status = 'held' then holds.reason end as held_reason,
        case when source.status = 'held' then holds.decided_at end as held_at
    from source
    left join holds using (file_id)
)

select * from renamed
