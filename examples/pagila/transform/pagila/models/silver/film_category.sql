with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'film_category'), ['film_id', 'category_id']) }}
)

select
    cast(film_id as {{ dbt.type_int() }}) as film_id,
    cast(category_id as {{ dbt.type_int() }}) as category_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
