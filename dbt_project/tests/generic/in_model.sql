{#- Every value of the column is a `field` of the model or seed `to` (a dimension: dim_community,
    dim_issue_category), or one of `also` (e.g. 'all' on a community's overall grade); nulls pass.
    The `relationships` test of the models built after the forecast: `to` is named, not a ref
    (macros/relations.sql), so the test has one parent and cosmos runs it only with the model it
    checks, in the group after the forecast. -#}
{% test in_model(model, column_name, to, field, also=[]) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (select {{ field }} from {{ relation_of(to) }})
  {%- for value in also %}
  and {{ column_name }} <> '{{ value }}'
  {%- endfor %}
{% endtest %}
