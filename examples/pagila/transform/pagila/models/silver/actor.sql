with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'actor'), ['actor_id']) }}
)

select
    cast(actor_id as {{ dbt.type_int() }}) as actor_id,
    {{ clean_text('first_name') }} as first_name,
    {{ clean_text('last_name') }} as last_name,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
