with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'city'), ['city_id']) }}
)

select
    cast(city_id as {{ dbt.type_int() }}) as city_id,
    {{ clean_text('city') }} as city,
    cast(country_id as {{ dbt.type_int() }}) as country_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
