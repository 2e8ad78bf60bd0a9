-- The streets this warehouse serves (reference data in reference/streets.csv, issue 23), with their communities
-- counted, plus one member for records whose street nothing names, so that no record is dropped.
with

streets as (
    select * from {{ ref('streets') }}
),

communities as (
    select
        street_id,
        count(*) as community_count,
        -- known only when every community's is
        case when count(*) = count(households) then sum(households) end as households
    from {{ ref('communities') }}
    group by street_id
),

aliases as (
    select street_id, string_agg(alias, '、' order by length(alias) desc, alias) as aliases
    from {{ ref('street_aliases') }}
    group by street_id
)

select
    streets.street_id,
    streets.street_name,
    streets.district_name,
    streets.names_invented,
    coalesce(communities.community_count, 0)::integer as community_count,
    communities.households::integer as households,
    aliases.aliases
from streets
left join communities using (street_id)
left join aliases using (street_id)

union all

select 'unresolved', '街道未识别', null, false, 0, null, null
