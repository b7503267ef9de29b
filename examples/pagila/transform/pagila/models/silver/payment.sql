{#
    The source keys payment by (payment_date, payment_id) because it is partitioned by date; the
    payment itself is payment_id, so silver keeps one row per payment_id (a payment whose date changed
    is in bronze under both keys: the latest load wins).
#}
with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'payment'), ['payment_id'], order_by=['payment_date']) }}
)

select
    cast(payment_id as {{ dbt.type_int() }}) as payment_id,
    cast(customer_id as {{ dbt.type_int() }}) as customer_id,
    cast(staff_id as {{ dbt.type_int() }}) as staff_id,
    cast(rental_id as {{ dbt.type_int() }}) as rental_id,
    cast(amount as numeric(5, 2)) as amount,
    {{ utc_timestamp('payment_date') }} as payment_date
from bronze
