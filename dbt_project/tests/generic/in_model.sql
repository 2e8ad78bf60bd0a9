{#- Every value of the column is a `field` of the model or seed `to` (a dimension: dim_community,
    dim_issue_category), or one of `also` (e.g. 'all' on a community's overall grade); nulls pass.
    The `relationships` test of the models built after the forecast: `to` is named, not a ref
    (macros/relations.sql), so the test has one parent and cosmos runs it only with the model it
    checks, in the group after the forecast. -#}
{% test in_model(model, column_name, to, field, also=[]) %}
select checked.{{ column_name }}
from {{ model }} as checked
where checked.{{ column_name }} is not null
  -- an anti-join: `not in (subquery)` is a nested loop once the subquery outgrows work_mem (a
  -- complaint id checked against fct_complaints ran for minutes at 160,000 complaints)
  and not exists (select from {{ relation_of(to) }} as target where target.{{ field }} = checked.{{ column_name }})
  {%- for value in also %}
  and checked.{{ column_name }} <> '{{ value }}'
  {%- endfor %}
{% endtest %}
