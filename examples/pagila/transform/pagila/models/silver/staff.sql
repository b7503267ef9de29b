{# `password` (a hash) and `picture` (a blob) stay in bronze: silver is for analysis. #}
with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'staff'), ['staff_id']) }}
)

select
    cast(staff_id as {{ dbt.type_int() }}) as staff_id,
    {{ clean_text('first_name') }} as first_name,
    {{ clean_text('last_name') }} as last_name,
    cast(address_id as {{ dbt.type_int() }}) as address_id,
    {{ clean_email('email') }} as email,
    cast(store_id as {{ dbt.type_int() }}) as store_id,
    cast(active as {{ dbt.type_boolean() }}) as active,
    {{ clean_text('username') }} as username,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
