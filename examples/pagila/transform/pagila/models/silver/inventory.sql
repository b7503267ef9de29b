with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'inventory'), ['inventory_id']) }}
)

select
    cast(inventory_id as {{ dbt.type_int() }}) as inventory_id,
    cast(film_id as {{ dbt.type_int() }}) as film_id,
    cast(store_id as {{ dbt.type_int() }}) as store_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
