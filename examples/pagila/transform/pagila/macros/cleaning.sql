{# Cleaning and typing helpers of the silver layer; plain SQL that DuckDB, PostgreSQL and Spark run
   (the spellings that differ are in portable.sql). #}

{# Trimmed text; empty (or blank) becomes null. #}
{% macro clean_text(column) -%}
    nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{# Trimmed, lower-cased e-mail address; empty becomes null. #}
{% macro clean_email(column) -%}
    lower({{ clean_text(column) }})
{%- endmacro %}


{# An integer column (0/1, as Pagila's customer.active) as a boolean; null stays null. #}
{% macro int_to_boolean(column) -%}
    case when {{ column }} is null then null when {{ column }} <> 0 then true else false end
{%- endmacro %}


{#
    A timestamp with time zone as the UTC wall-clock time, without a zone: silver and gold hold every
    timestamp in UTC, so dates, months and date keys never depend on the session's time zone.
#}
{% macro utc_timestamp(column) -%}
    {{ utc_wall_clock(column) }}
{%- endmacro %}


{# The date key of a date or timestamp: yyyymmdd as an integer (20220214). #}
{% macro date_key(column) -%}
    cast(
        extract(year from {{ column }}) * 10000
        + extract(month from {{ column }}) * 100
        + extract(day from {{ column }})
        as {{ dbt.type_int() }}
    )
{%- endmacro %}
