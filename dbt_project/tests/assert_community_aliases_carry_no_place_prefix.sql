-- No alias of reference/community_aliases.csv starts with a place prefix (北京市, a district's or a street's
-- name: macros/text_helpers.sql address_prefixes). Fields lose those prefixes before they are matched, so
-- such an alias could never match a 所属社区 whole; and int_complaints__community_resolved compares a raw
-- 所属社区 with the aliases before it strips the field, which gives the stripped comparison's answer only
-- while this holds. Write the alias without the prefix (望园社区, not 六里桥街道望园社区).

select alias, community_id
from {{ ref('community_aliases') }}
where regexp_replace(alias, {{ address_prefixes() }}, '') <> alias
