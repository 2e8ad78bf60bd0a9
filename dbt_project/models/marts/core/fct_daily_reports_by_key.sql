-- Reports per Beijing day × community × category × repeat key, for the marts that count repeats
-- (a building or place, or a complainant, with more than one report in a period): they sum these
-- daily counts over their months and weeks instead of each grouping the complaints again.
-- key_kind 'address': the building or place (fct_complaints.address_key; an address without one,
-- '<community>:?', says nothing about repeats and is left out); 'complainant': the keyed hash of the
-- person. Complaints received from the build's as-of moment on are not counted yet.
{{ config(indexes=[{"columns": ["key_kind", "received_date"]}]) }}

with

complaints as (
    select received_date, community_id, category_code, address_key, complainant_key
    from {{ ref('fct_complaints') }}
    where received_at < {{ as_of() }}
),

keyed as (
    select received_date, community_id, category_code, 'address' as key_kind, address_key as repeat_key
    from complaints
    where address_key not like '%:?'
    union all
    select received_date, community_id, category_code, 'complainant', complainant_key
    from complaints
    where complainant_key is not null
)

select received_date, community_id, category_code, key_kind, repeat_key, count(*)::integer as reports
from keyed
group by received_date, community_id, category_code, key_kind, repeat_key
