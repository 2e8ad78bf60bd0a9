{#- The column's values are unique because the database enforces it: a primary key or a unique index on
    that column alone, not partial. A check of the catalogue, not of the rows: on a table of tens of
    millions of rows the `unique` test read every row each build (67 s for 56.6M status events in the
    10M run of issue 17), while the index refuses a duplicate as it is written. Fails (one row) when
    the table has no such index, for example one built before its key was declared. -#}
{% test unique_enforced(model, column_name) %}
select '{{ model.schema }}.{{ model.identifier }}' as relation, '{{ column_name }}' as unenforced_key
where not exists (
    select 1
    from pg_index as i
    join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = to_regclass('{{ model.schema }}.{{ model.identifier }}')
      and i.indisunique and i.indnkeyatts = 1 and i.indpred is null and i.indisvalid
      and a.attname = '{{ column_name }}'
)
{% endtest %}
