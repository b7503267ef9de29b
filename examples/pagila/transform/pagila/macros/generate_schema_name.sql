{#
    Models go in exactly the schema they name (`silver`, `gold`), not dbt's default
    `<target schema>_<custom schema>` (dbt's documented "use the custom schema as is" override). Models
    without a schema use the target's schema. A tenant warehouse needs nothing here: datakit moves every
    relation of a tenant's run into its schemas (`acme_silver`, `acme_gold`).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
