with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'country'), ['country_id']) }}
)

select
    cast(country_id as {{ dbt.type_int() }}) as country_id,
    {{ clean_text('country') }} as country,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
