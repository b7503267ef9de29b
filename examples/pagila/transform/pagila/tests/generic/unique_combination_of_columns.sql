{#
    Generic test: no two rows share the same values of `combination_of_columns` (a composite key).
    The project uses no dbt package, so this stands in for dbt_utils' test of the same name.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    select {{ columns }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
