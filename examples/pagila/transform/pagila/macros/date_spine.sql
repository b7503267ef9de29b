{#
    One row per day, column `date_day` (a date), from `start_date` to `end_date` inclusive.

    Both arguments are SQL expressions of type date (literals, or scalar subqueries such as
    `(select min_day from bounds)`). Portable: no generate_series (its result differs between DuckDB
    and PostgreSQL) and no dbt package; the days are counted from five cross-joined digit tables, so a
    spine covers at most 100,000 days (~273 years).
#}
{% macro date_spine(start_date, end_date) -%}
    with _spine_digits as (
        select 0 as digit
        {%- for digit in range(1, 10) %}
        union all select {{ digit }}
        {%- endfor %}
    ),

    _spine_numbers as (
        select
            units.digit
            + 10 * tens.digit
            + 100 * hundreds.digit
            + 1000 * thousands.digit
            + 10000 * ten_thousands.digit as day_number
        from _spine_digits as units
        cross join _spine_digits as tens
        cross join _spine_digits as hundreds
        cross join _spine_digits as thousands
        cross join _spine_digits as ten_thousands
    )

    select cast({{ dbt.dateadd('day', 'day_number', start_date) }} as date) as date_day
    from _spine_numbers
    where day_number <= {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}
