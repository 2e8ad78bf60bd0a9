-- The 15 issue categories as Open311 GeoReport v2 services (GET /services.json|xml, issue 21): code, Chinese
-- name, what falls in it, its group (seeds/issue_categories.csv service_group) and the classifier's strongest
-- keywords (seeds/category_keywords.csv), ten at most. No form to fill in (metadata false); requests come in
-- batches from the street's channels (type batch).
{{ config(meta={'open311': true}) }}

with

categories as (
    select * from {{ ref('dim_issue_category') }}
),

seeded as (
    select category_code, service_group from {{ ref('issue_categories') }}
),

keywords as (
    select
        category_code,
        string_agg(keyword, ',' order by weight desc, keyword) filter (where strongest <= 10) as keywords
    from (
        select
            category_code,
            keyword,
            weight,
            row_number() over (partition by category_code order by weight desc, keyword) as strongest
        from {{ ref('category_keywords') }}
        where weight > 0
    ) as ranked
    group by category_code
)

select
    categories.category_code as service_code,
    categories.category_name_zh as service_name,
    categories.description,
    false as metadata,
    'batch' as type,
    coalesce(keywords.keywords, '') as keywords,
    seeded.service_group as "group"
from categories
left join seeded using (category_code)
left join keywords using (category_code)
