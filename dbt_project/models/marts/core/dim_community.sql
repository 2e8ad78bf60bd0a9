-- The communities of each street (reference data each street edits in reference/communities.csv), plus one
-- member for records whose community could not be resolved, so that no record is dropped.
with

communities as (
    select * from {{ ref('communities') }}
),

aliases as (
    select community_id, string_agg(alias, '、' order by length(alias) desc, alias) as aliases
    from {{ ref('community_aliases') }}
    group by community_id
)

select
    communities.community_id,
    communities.street_id,
    communities.community_name,
    communities.community_type,
    communities.property_management,
    communities.on_miniprogram,
    communities.households,
    aliases.aliases
from communities
left join aliases using (community_id)

union all

select 'unresolved', null, '社区未识别', 'unresolved', null, false, null, null
