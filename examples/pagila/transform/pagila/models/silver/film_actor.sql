with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'film_actor'), ['actor_id', 'film_id']) }}
)

select
    cast(actor_id as {{ dbt.type_int() }}) as actor_id,
    cast(film_id as {{ dbt.type_int() }}) as film_id,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
