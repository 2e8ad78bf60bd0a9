-- A problem's id is what the problem IS, never when or over which window it was seen: every problem_id of
-- the high-frequency list and of the monthly candidates is the md5 of its level, community (a street
-- candidate: its street, issue 23), category and building (computed here independently of macros/problems.sql); one problem has one id in every window,
-- one id names one problem; an address row points to its community × category row of the same window; and
-- a community × category candidate of 每月一题 carries the same id as that problem on the list. Each
-- returned row names the first rule broken; an empty result means the ids can be followed across windows
-- and days.

with

problems as (
    select * from {{ ref('mart_high_frequency_problems') }}
),

themes as (
    select * from {{ ref('mart_monthly_theme_candidates') }}
),

broken as (
    select 'problem_id is not md5(level|community|category|address)' as rule_broken,
           problem_level, community_id, category_code, address_key, problem_id, window_days
    from problems
    where problem_id <> md5(problem_level || '|' || community_id || '|' || category_code || '|' || coalesce(address_key, ''))

    union all
    select 'parent_problem_id is not the id of the community × category',
           problem_level, community_id, category_code, address_key, parent_problem_id, window_days
    from problems
    where problem_level = 'address'
      and parent_problem_id is distinct from md5('community_category|' || community_id || '|' || category_code || '|')

    union all
    select 'address row without its community × category row in the same window',
           child.problem_level, child.community_id, child.category_code, child.address_key, child.problem_id, child.window_days
    from problems as child
    left join problems as parent
        on parent.problem_id = child.parent_problem_id and parent.window_days = child.window_days
    where child.problem_level = 'address' and parent.problem_id is null

    union all
    select 'one problem has several ids across windows',
           problem_level, community_id, category_code, address_key, min(problem_id), null
    from problems
    group by problem_level, community_id, category_code, address_key
    having count(distinct problem_id) > 1

    union all
    select 'one id names several problems',
           min(problem_level), min(community_id), min(category_code), min(address_key), problem_id, null
    from problems
    group by problem_id
    having count(distinct problem_level || '|' || community_id || '|' || category_code || '|' || coalesce(address_key, '')) > 1

    union all
    select 'monthly candidate id is not md5(level|community, or a street row its street|category|)',
           candidate_level, community_id, category_code, null, problem_id, null
    from themes
    where problem_id <> md5(candidate_level || '|'
                            || case when candidate_level = 'street_category' then street_id else community_id end
                            || '|' || category_code || '|')

    union all
    select 'monthly candidate id differs from the same problem on the list',
           themes.candidate_level, themes.community_id, themes.category_code, null, themes.problem_id, problems.window_days
    from themes
    join problems
        on problems.problem_level = 'community_category'
        and problems.community_id = themes.community_id
        and problems.category_code = themes.category_code
    where themes.candidate_level = 'community_category' and themes.problem_id <> problems.problem_id
)

select * from broken
