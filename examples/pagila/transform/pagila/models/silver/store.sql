with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'store'), ['store_id']) }}
)

select
    cast(store_id as {{ dbt.type_int() }}) as store_id,
    cast(manager_staff_id as {{ dbt.type_int() }}) as manager_staff_id,
    cast(address_id as {{ dbt.type_int() }}) as address_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
