with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'category'), ['category_id']) }}
)

select
    cast(category_id as {{ dbt.type_int() }}) as category_id,
    {{ clean_text('name') }} as name,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
