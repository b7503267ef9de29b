{#
    Revenue per month, store and film category: one row per (revenue_month, store_id, category_id).
    Each payment counts once, under its film's primary category (dim_film), so the revenue of all
    rows adds up to the total of fact_payment.
#}
select
    cast({{ dbt.date_trunc('month', 'fact_payment.payment_date') }} as date) as revenue_month,
    fact_payment.store_id,
    dim_film.category_id,
    dim_film.category_name,
    count(*) as payment_count,
    count(distinct fact_payment.rental_id) as rental_count,
    sum(fact_payment.amount) as revenue
from {{ ref('fact_payment') }} as fact_payment
inner join {{ ref('dim_film') }} as dim_film on dim_film.film_id = fact_payment.film_id
group by 1, 2, 3, 4
