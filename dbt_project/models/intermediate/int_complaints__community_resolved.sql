-- Resolve each record's community through the alias seed: the 所属社区 field first, the address
-- second; street and district prefixes are removed first, and the longest alias wins.
--
-- Written as one select over int_complaints__latest with a per-record lateral lookup (no CTEs):
-- Postgres then merges this view into the query reading it, so a filter on complaint_id from an
-- incremental build reaches int_complaints__latest's index and only the rebuilt records are resolved.
{%- set prefixes = "'^(北京市)?(丰台区)?(" ~ var('street_name') ~ ")?'" %}

select
    complaints.*,
    coalesce(best.community_id, 'unresolved') as community_id,
    coalesce(best.resolved_from, 'unresolved') as community_resolved_from
from {{ ref('int_complaints__latest') }} as complaints
left join lateral (
    -- the best alias: a match in the community field before one in the address, then the longest
    select
        aliases.community_id,
        case when position(aliases.alias in cleaned.community_clean) > 0 then 'community_field' else 'address' end
            as resolved_from
    from (
        select
            regexp_replace(coalesce(complaints.community_raw, ''), {{ prefixes }}, '') as community_clean,
            regexp_replace(coalesce(complaints.address, ''), {{ prefixes }}, '') as address_clean
    ) as cleaned
    join {{ ref('community_aliases') }} as aliases
        on position(aliases.alias in cleaned.community_clean) > 0
        or position(aliases.alias in cleaned.address_clean) > 0
    order by position(aliases.alias in cleaned.community_clean) > 0 desc, length(aliases.alias) desc, aliases.alias
    limit 1
) as best on true
