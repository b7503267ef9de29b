{#
    One row per rental. The store is the one holding the copy (inventory.store_id). A rental is due
    `film.rental_duration` days after it started and is a late return when the copy came back after
    that; `rental_duration_days` counts the calendar days it lasted (null while it is out).
#}
with payments as (
    select rental_id, count(*) as payment_count, sum(amount) as amount_paid
    from {{ ref('payment') }}
    group by rental_id
),

rentals as (
    select
        rental.rental_id,
        rental.rental_date,
        rental.return_date,
        {{ dbt.dateadd('day', 'film.rental_duration', 'rental.rental_date') }} as due_date,
        rental.customer_id,
        rental.staff_id,
        inventory.store_id,
        rental.inventory_id,
        inventory.film_id,
        film.rental_duration as allowed_rental_days
    from {{ ref('rental') }} as rental
    inner join {{ ref('inventory') }} as inventory on inventory.inventory_id = rental.inventory_id
    inner join {{ ref('film') }} as film on film.film_id = inventory.film_id
)

select
    rentals.rental_id,
    {{ date_key('rentals.rental_date') }} as rental_date_key,
    {{ date_key('rentals.return_date') }} as return_date_key,
    rentals.rental_date,
    rentals.return_date,
    cast(rentals.due_date as {{ dbt.type_timestamp() }}) as due_date,
    rentals.customer_id,
    rentals.staff_id,
    rentals.store_id,
    rentals.inventory_id,
    rentals.film_id,
    rentals.allowed_rental_days,
    {{ dbt.datediff('rentals.rental_date', 'rentals.return_date', 'day') }} as rental_duration_days,
    {{ hours_between('rentals.rental_date', 'rentals.return_date') }} as rental_duration_hours,
    case when rentals.return_date is null then false else true end as is_returned,
    case when rentals.return_date > rentals.due_date then true else false end as is_late_return,
    coalesce(payments.payment_count, 0) as payment_count,
    coalesce(payments.amount_paid, 0) as amount_paid
from rentals
left join payments on payments.rental_id = rentals.rental_id
