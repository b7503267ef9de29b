with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'address'), ['address_id']) }}
)

select
    cast(address_id as {{ dbt.type_int() }}) as address_id,
    {{ clean_text('address') }} as address,
    {{ clean_text('address2') }} as address2,
    {{ clean_text('district') }} as district,
    cast(city_id as {{ dbt.type_int() }}) as city_id,
    {{ clean_text('postal_code') }} as postal_code,
    {{ clean_text('phone') }} as phone,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
