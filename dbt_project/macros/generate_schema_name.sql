{#- Models land in the schema they name (staging, intermediate, marts, reference), not in
    "<target>_<name>": the published schema is `marts`, whatever the target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
