{#
    Models go in exactly the schema they name (`silver`, `gold`), not dbt's default
    `<target schema>_<custom schema>`; `var('schema_prefix')` (default empty) lets a tenant warehouse
    put them in e.g. `acme_silver`. Models without a schema use the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ var('schema_prefix', '') ~ (custom_schema_name | trim) }}
    {%- endif -%}
{%- endmacro %}
