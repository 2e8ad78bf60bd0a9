{#- The columns together identify a row: no combination of their values occurs twice (nulls count as
    equal, so a null in a key column does not hide a duplicate). dbt_utils is not available. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
