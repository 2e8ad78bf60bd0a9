{#- Only rows of files that are not held back reach staging (quality/held.py): a file whose batch
    failed validation as a whole stays in raw, counted, until a person releases or rejects it.
    Used in the WHERE of every staging model that reads a raw table. -#}
{% macro not_held(file_id_column='file_id') -%}
    {{ file_id_column }} not in (
        select file_id from {{ source('ops', 'ingested_files') }} where status = 'held')
{%- endmacro %}
