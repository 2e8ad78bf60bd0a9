{#- The relation of a model or seed by name, without `ref`. Only for the tests of the models built
    after the forecast (tests/generic/in_model.sql, the grades' reproducibility tests): a test that
    refs a second node has two parents, and cosmos runs it in the task group of each, so also before
    the model it checks is rebuilt. What it names is built before anything that reads it (the
    dimensions and the seeds). -#}
{% macro relation_of(name) -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type in ('model', 'seed') and node.name == name -%}
                {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
            {%- endif -%}
        {%- endfor -%}
        {{ exceptions.raise_compiler_error("relation_of: no model or seed named " ~ name) }}
    {%- endif -%}
    {{ return(name) }}
{%- endmacro %}
