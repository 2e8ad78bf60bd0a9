-- Resolve each record's community through the alias seed: the 所属社区 field first, the address
-- second; street and district prefixes are removed first, and the longest alias wins.
with

complaints as (
    select * from {{ ref('int_complaints__latest') }}
),

aliases as (
    select alias, community_id, length(alias) as alias_length from {{ ref('community_aliases') }}
),

cleaned as (
    select
        complaint_id,
        regexp_replace(coalesce(community_raw, ''), '^(北京市)?(丰台区)?({{ var("street_name") }})?', '') as community_clean,
        regexp_replace(coalesce(address, ''), '^(北京市)?(丰台区)?({{ var("street_name") }})?', '') as address_clean
    from complaints
),

candidates as (
    select cleaned.complaint_id, aliases.community_id, 1 as priority, aliases.alias_length
    from cleaned
    join aliases on position(aliases.alias in cleaned.community_clean) > 0
    union all
    select cleaned.complaint_id, aliases.community_id, 2 as priority, aliases.alias_length
    from cleaned
    join aliases on position(aliases.alias in cleaned.address_clean) > 0
),

best as (
    select distinct on (complaint_id) complaint_id, community_id, priority
    from candidates
    order by complaint_id, priority, alias_length desc
)

select
    complaints.*,
    coalesce(best.community_id, 'unresolved') as community_id,
    case best.priority when 1 then 'community_field' when 2 then 'address' else 'unresolved' end
        as community_resolved_from
from complaints
left join best using (complaint_id)
