{#- Every value of the column is a `field` of the model or seed `to` (a dimension: dim_community,
    dim_issue_category), or one of `also` (e.g. 'all' on a community's overall grade); nulls pass.
    The `relationships` test of the models built after the forecast: `to` is named, not a ref
    (macros/relations.sql), so the test has one parent and cosmos runs it only with the model it
    checks, in the group after the forecast. -#}
{% test in_model(model, column_name, to, field, also=[]) %}
with checked as (
    select {{ column_name }} as value from {{ model }} where {{ column_name }} is not null
)
select value
from checked
-- an anti-join: `not in (subquery)` is a nested loop once the subquery outgrows work_mem (a
-- complaint id checked against fct_complaints ran for minutes at 160,000 complaints)
where not exists (select from {{ relation_of(to) }} as target where target.{{ field }} = checked.value)
  {%- for value in also %}
  and value <> '{{ value }}'
  {%- endfor %}
{% endtest %}
