with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'rental'), ['rental_id']) }}
)

select
    cast(rental_id as {{ dbt.type_int() }}) as rental_id,
    {{ utc_timestamp('rental_date') }} as rental_date,
    cast(inventory_id as {{ dbt.type_int() }}) as inventory_id,
    cast(customer_id as {{ dbt.type_int() }}) as customer_id,
    {{ utc_timestamp('return_date') }} as return_date,
    cast(staff_id as {{ dbt.type_int() }}) as staff_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
