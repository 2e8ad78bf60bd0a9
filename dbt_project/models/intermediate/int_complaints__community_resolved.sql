-- Resolve each record's community: an alias of reference/community_aliases.csv in the 所属社区 field first,
-- then the mini-program ticket's project code (reference/community_project_codes.csv), then an alias in the
-- address; street and district prefixes are removed before aliases are matched, and the longest alias wins.
--
-- Written as one select over int_complaints__latest with a per-record lateral lookup (no CTEs):
-- Postgres then merges this view into the query reading it, so a filter on complaint_id from an
-- incremental build reaches int_complaints__latest's index and only the rebuilt records are resolved.
-- The project code is read from the ticket version the record is (file_id, row_number: raw's key).
--
-- And its street (issue 23): its community's (reference/communities.csv street_id); else, for a work order, the
-- street its 所属街道 spells (reference/street_aliases.csv; the hotline's suite has quarantined any other);
-- else the warehouse's street when it serves one (reference/streets.csv); else 'unresolved', never guessed.
--
-- A district's aliases run to thousands (a city's 300 streets: 1,500), and looking for each in each record's
-- two fields took minutes a city-day (bench --streets 300). A 所属社区 that is an alias whole is the longest
-- alias it holds, so the best candidate whatever else matches: found by equality (a hash join), and the
-- search for aliases inside the fields runs only for the records it leaves (`exact.community_id is null`
-- in the lateral's where: a one-time filter, the search is not even started).
-- The prefixes' pattern alternates every street's name, and a city's 300 names cost some 30 µs a field to
-- strip: the raw 所属社区 is compared with the aliases first (`as_written`), and stripped only when it is no
-- alias as written. The same answer, since no alias starts with a prefix (tests/
-- assert_community_aliases_carry_no_place_prefix.sql).
{%- set prefixes = address_prefixes() %}

select
    complaints.*,
    coalesce(as_written.community_id, exact.community_id, best.community_id, 'unresolved') as community_id,
    case when coalesce(as_written.community_id, exact.community_id) is not null then 'community_field'
         else coalesce(best.resolved_from, 'unresolved') end as community_resolved_from,
    coalesce(
        communities.street_id,
        (select aliases.street_id
         from {{ ref('stg_hotline__work_orders') }} as orders
         join {{ ref('street_aliases') }} as aliases on aliases.alias = btrim(orders.street)
         where complaints.source_channel in ('hotline_12345', 'hotline_400')
             and orders.file_id = complaints.file_id
             and orders.row_number = complaints.row_number),
        (select min(streets.street_id) from {{ ref('streets') }} as streets having count(*) = 1),
        'unresolved'
    ) as street_id
from {{ ref('int_complaints__latest') }} as complaints
left join {{ ref('community_aliases') }} as as_written
    on as_written.alias = complaints.community_raw
left join {{ ref('community_aliases') }} as exact
    on exact.alias = case when as_written.community_id is null
                          then regexp_replace(coalesce(complaints.community_raw, ''), {{ prefixes }}, '') end
left join lateral (
    -- the best candidate: the community field, then the project code, then the address; the longest alias
    select candidates.community_id, candidates.resolved_from
    from (
        select
            aliases.community_id,
            case when position(aliases.alias in cleaned.community_clean) > 0 then 'community_field' else 'address' end
                as resolved_from,
            aliases.alias as matched
        from (
            select
                regexp_replace(coalesce(complaints.community_raw, ''), {{ prefixes }}, '') as community_clean,
                regexp_replace(coalesce(complaints.address, ''), {{ prefixes }}, '') as address_clean
        ) as cleaned
        join {{ ref('community_aliases') }} as aliases
            on position(aliases.alias in cleaned.community_clean) > 0
            or position(aliases.alias in cleaned.address_clean) > 0
        union all
        select codes.community_id, 'project_code' as resolved_from, codes.project_code as matched
        from {{ ref('stg_miniprogram__tickets') }} as tickets
        join {{ ref('community_project_codes') }} as codes
            on upper(btrim(codes.project_code)) = upper(btrim(tickets.project_code))
        where complaints.source_channel = 'miniprogram'
            and tickets.file_id = complaints.file_id
            and tickets.row_number = complaints.row_number
    ) as candidates
    where as_written.community_id is null and exact.community_id is null
    order by
        case candidates.resolved_from when 'community_field' then 1 when 'project_code' then 2 else 3 end,
        length(candidates.matched) desc,
        candidates.matched
    limit 1
) as best on true
left join {{ ref('communities') }} as communities
    on communities.community_id = coalesce(as_written.community_id, exact.community_id, best.community_id)
