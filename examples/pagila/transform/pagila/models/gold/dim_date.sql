{#
    One row per day. By default whole calendar years around every rental, return and payment
    (January 1st of the earliest year to December 31st of the latest); vars `dim_date_start` and
    `dim_date_end` ('YYYY-MM-DD') fix the bounds instead. Built with the portable `date_spine` macro.
#}
{%- set start_var = var('dim_date_start', none) -%}
{%- set end_var = var('dim_date_end', none) -%}

with activity as (
    select rental_date as moment from {{ ref('rental') }}
    union all
    select return_date from {{ ref('rental') }} where return_date is not null
    union all
    select payment_date from {{ ref('payment') }}
),

bounds as (
    select
        {% if start_var -%}
        cast('{{ start_var }}' as date)
        {%- else -%}
        cast({{ dbt.date_trunc('year', 'min(moment)') }} as date)
        {%- endif %} as first_day,
        {% if end_var -%}
        cast('{{ end_var }}' as date)
        {%- else -%}
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, dbt.date_trunc('year', 'max(moment)'))) }} as date)
        {%- endif %} as last_day
    from activity
),

spine as (
    {{ date_spine('(select first_day from bounds)', '(select last_day from bounds)') }}
),

parts as (
    select
        date_day,
        cast(extract(year from date_day) as {{ dbt.type_int() }}) as year_number,
        cast(extract(quarter from date_day) as {{ dbt.type_int() }}) as quarter_number,
        cast(extract(month from date_day) as {{ dbt.type_int() }}) as month_number,
        cast(extract(day from date_day) as {{ dbt.type_int() }}) as day_of_month,
        cast({{ iso_day_of_week('date_day') }} as {{ dbt.type_int() }}) as day_of_week,
        cast(extract(week from date_day) as {{ dbt.type_int() }}) as iso_week,
        cast(extract(doy from date_day) as {{ dbt.type_int() }}) as day_of_year
    from spine
)

select
    {{ date_key('date_day') }} as date_key,
    date_day,
    year_number as year,
    quarter_number as quarter,
    month_number as month,
    case month_number
        {%- for name in ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
                         'September', 'October', 'November', 'December'] %}
        when {{ loop.index }} then '{{ name }}'
        {%- endfor %}
    end as month_name,
    cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
    day_of_month,
    day_of_year,
    day_of_week,
    case day_of_week
        {%- for name in ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] %}
        when {{ loop.index }} then '{{ name }}'
        {%- endfor %}
    end as day_name,
    iso_week,
    case when day_of_week in (6, 7) then true else false end as is_weekend
from parts
