{#
    The few spellings that differ between the engines the example runs on (DuckDB, PostgreSQL, Spark),
    dispatched by adapter: everything else in the models is SQL all three run alike.
#}

{# A timestamp with time zone as the UTC wall-clock time, without a zone. #}
{% macro utc_wall_clock(column) -%}
    {{ return(adapter.dispatch('utc_wall_clock')(column)) }}
{%- endmacro %}

{% macro default__utc_wall_clock(column) -%}
    cast(({{ column }}) at time zone 'UTC' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{# Spark's TIMESTAMP is an instant shown in the session's time zone, which datakit sets to UTC. #}
{% macro spark__utc_wall_clock(column) -%}
    cast(({{ column }}) as timestamp_ntz)
{%- endmacro %}


{# A list of text as one string, items joined by `separator`. #}
{% macro join_list(column, separator) -%}
    {{ return(adapter.dispatch('join_list')(column, separator)) }}
{%- endmacro %}

{% macro default__join_list(column, separator) -%}
    array_to_string({{ column }}, {{ separator }})
{%- endmacro %}

{% macro spark__join_list(column, separator) -%}
    array_join({{ column }}, {{ separator }})
{%- endmacro %}


{# The ISO day of the week (Monday 1 .. Sunday 7) of a date. #}
{% macro iso_day_of_week(column) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(column)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(column) -%}
    extract(isodow from {{ column }})
{%- endmacro %}

{% macro spark__iso_day_of_week(column) -%}
    extract(dayofweek_iso from {{ column }})
{%- endmacro %}


{#
    `measure` of a group's rows joined by `separator`, in the order of `order_by` (a list of
    expressions). dbt's listagg on Spark ignores the order, so Spark sorts the collected values itself.
#}
{% macro ordered_listagg(measure, separator, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg')(measure, separator, order_by)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, separator, order_by) -%}
    {{ dbt.listagg(measure, separator, 'order by ' ~ (order_by | join(', '))) }}
{%- endmacro %}

{% macro spark__ordered_listagg(measure, separator, order_by) -%}
    array_join(transform(array_sort(collect_list(struct(
        {%- for expression in order_by %}{{ expression }} as _k{{ loop.index }}, {% endfor -%}
        {{ measure }} as _v))), _x -> _x._v), {{ separator }})
{%- endmacro %}


{#
    The hour boundaries crossed from `start` to `end` (10:50 -> 11:10 is 1), as DuckDB's and PostgreSQL's
    datediff count them. dbt-spark's datediff rounds the elapsed seconds up instead (10:10 -> 11:50 is 2
    there, 1 here), so the count is spelled out in what the three engines compute alike: calendar days
    crossed times 24, plus the difference of the hours of the day. Both are UTC wall-clock timestamps.
#}
{% macro hours_between(start, end) -%}
    cast(
        {{ dbt.datediff(start, end, 'day') }} * 24
        + extract(hour from {{ end }}) - extract(hour from {{ start }})
        as {{ dbt.type_bigint() }}
    )
{%- endmacro %}
