{#- The scopes of the daily briefing (rpt_dispatch_briefing, issue 23): each briefing day holds the
    district's briefing (street_id null: every street of the warehouse together) and each street's own.
    A figure summed over streets gets the district's row from `group by ..., rollup (street_id)`; a listed
    item (an order, a problem, a community, a warning) is on its street's list and on the district's. -#}

{#- Two rows of the briefing's CTEs in the same scope: the district (null) matches null. coalesce rather
    than `is not distinct from`, so that the join stays a hash join (no street is named ''). -#}
{% macro same_scope(left, right) -%}
coalesce({{ left }}.street_id, '') = coalesce({{ right }}.street_id, '')
{%- endmacro %}

{#- A listed item of a street, once on its street's briefing and once on the district's (scope_street_id
    null); rank it with `partition by scope_street_id`. -#}
{% macro in_its_street_and_the_district(street_id) -%}
cross join lateral (values ({{ street_id }}), (null::text)) as scope (scope_street_id)
{%- endmacro %}
