{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='insert_new',
        on_schema_change='append_new_columns',
        pre_hook=["{{ reset_when_settings_change([]) }}", "{{ reset_when_lacking_columns() }}",
                  "{% if is_incremental() %}{{ ensure_primary_key('event_id') }}{% endif %}",
                  "{{ follow_complaint_streets() }}"],
        post_hook=[
            "{{ remember_settings([]) }}",
            "{{ remember_file_watermark(ref('int_complaint_versions')) }}",
            "{{ ensure_primary_key('event_id') }}",
            "{{ ensure_index(['complaint_id']) }}",
            "{{ ensure_index(['built_at']) }}",
            "{{ ensure_index(['event_at']) }}",
        ]
    )
}}
-- Every status change of every complaint as its own row: from the hotline's successive versions
-- (dispatch, acceptance, first contact, extension, return, reopening, closure, return visit) and
-- from the mini-program's own event lists. Raw keeps every version, so an event, once seen, is
-- rebuilt by every run; incrementally only records touched by newly loaded files are recomputed.
-- How far it has read is recorded apart (ops.file_watermarks): an event keeps the first file that had
-- it, so the newest file here lags whenever the latest files bring no new event, and every later build
-- would read their records again (the 10M bench's day of issue 17 wrote 1.44M events for 360,000 new).
-- A released held file (older than the watermark) or a new hashing key rebuilds it whole
-- (macros/incremental.sql). A build inserts the events the table does not hold yet (incremental strategy
-- insert_new, macros/incremental.sql: on the primary key, ensured before). Indexed by complaint and by moment: the daily aggregates read the returns
-- of the days they rebuild, and those since their last build (macros/daily_scope.sql).
-- street_id (issue 23) is the complaint's (fct_complaints.street_id; 'unresolved' for an event of a record
-- fct_complaints does not hold, a ticket no longer a demand): a kept event follows its complaint when that moves
-- to another street (the pre-hook follow_complaint_streets). A table built before street_id is rebuilt whole once.
{%- set incremental = is_incremental() and not settings_changed([]) and not lacks_contract_columns() %}

with

versions as (
    select *
    from {{ ref('int_complaint_versions') }}
    where is_resident_demand
    {% if incremental %}
        and (source_channel, source_record_id) in (
            select source_channel, source_record_id
            from {{ ref('int_complaint_versions') }}
            where file_id > {{ file_watermark('(select coalesce(max(source_file_id), 0) from ' ~ this ~ ')') }}::bigint
        )
    {% endif %}
),

ordered as (
    select
        *,
        lag(status) over w as previous_status,
        lag(satisfaction) over w as previous_satisfaction
    from versions
    window w as (partition by source_channel, source_record_id order by version_updated_at, file_id, row_number)
),

milestones as (
    select source_channel, source_record_id, 'received' as event_type, received_at as event_at, null as detail, file_id
    from ordered
    union all
    select source_channel, source_record_id, 'dispatched', dispatched_at, null, file_id
    from ordered where dispatched_at is not null and source_channel <> 'miniprogram'
    union all
    select source_channel, source_record_id, 'accepted', accepted_at, null, file_id
    from ordered where accepted_at is not null and source_channel <> 'miniprogram'
    union all
    select source_channel, source_record_id, 'first_contact', responded_at, null, file_id
    from ordered where responded_at is not null
    union all
    select source_channel, source_record_id, 'closed', closed_at, null, file_id
    from ordered where closed_at is not null and source_channel <> 'miniprogram'
),

transitions as (
    select
        source_channel,
        source_record_id,
        case
            when previous_status = 'closed' and status <> 'closed' then 'reopened'
            else status
        end as event_type,
        version_updated_at as event_at,
        previous_status as detail,
        file_id
    from ordered
    where source_channel <> 'miniprogram'
      and previous_status is distinct from status
      and (
          status in ('in_progress', 'extended', 'returned', 'cancelled')
          or (previous_status = 'closed' and status <> 'closed')
          -- a status whose own timestamp column the export left empty still counts, at the version's time
          or (status = 'dispatched' and dispatched_at is null)
          or (status = 'accepted' and accepted_at is null)
          or (status = 'closed' and closed_at is null)
      )
),

return_visits as (
    select source_channel, source_record_id, 'return_visit' as event_type, version_updated_at as event_at,
           satisfaction as detail, file_id
    from ordered
    where satisfaction is not null and previous_satisfaction is distinct from satisfaction
),

ticket_events as (
    select
        'miniprogram' as source_channel,
        events.ticket_id as source_record_id,
        case events.event_status when 'received' then 'received' else coalesce(events.event_status, events.event_status_raw) end
            as event_type,
        events.event_at,
        events.event_by as detail,
        tickets.file_id
    from {{ ref('stg_miniprogram__ticket_events') }} as events
    join versions as tickets
        on tickets.source_channel = 'miniprogram'
        and tickets.source_record_id = events.ticket_id
        and tickets.version_updated_at = events.version_updated_at
        and tickets.file_id = events.file_id
    where events.event_at is not null
),

all_events as (
    select * from milestones
    union all select * from transitions
    union all select * from return_visits
    union all select * from ticket_events
),

deduplicated as (
    -- the same event is repeated by every later version: keep it once, from the file that first had it
    select distinct on (source_channel, source_record_id, event_type, event_at)
        md5(source_channel || ':' || source_record_id) as complaint_id,
        source_channel,
        source_record_id,
        event_type,
        event_at,
        detail,
        file_id as source_file_id
    from all_events
    where event_at is not null
    order by source_channel, source_record_id, event_type, event_at, file_id
)

select
    coalesce(complaints.street_id, 'unresolved') as street_id,
    md5(deduplicated.complaint_id || ':' || event_type || ':' || event_at::text) as event_id,
    deduplicated.complaint_id,
    deduplicated.source_channel,
    deduplicated.source_record_id,
    event_type,
    event_at,
    detail,
    deduplicated.source_file_id,
    {{ built_at() }} as built_at
from deduplicated
left join {{ ref('fct_complaints') }} as complaints on complaints.complaint_id = deduplicated.complaint_id
