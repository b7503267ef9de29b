{#
    Bronze customer carries the transactional mixin (created_at = the source's create_date at midnight
    UTC, updated_at, systime): silver keeps Pagila's create_date as a date and drops the copy times.
#}
with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'customer'), ['customer_id'], order_by=['last_update', 'updated_at']) }}
)

select
    cast(customer_id as {{ dbt.type_int() }}) as customer_id,
    cast(store_id as {{ dbt.type_int() }}) as store_id,
    {{ clean_text('first_name') }} as first_name,
    {{ clean_text('last_name') }} as last_name,
    {{ clean_email('email') }} as email,
    cast(address_id as {{ dbt.type_int() }}) as address_id,
    {{ int_to_boolean('active') }} as active,
    cast(activebool as {{ dbt.type_boolean() }}) as activebool,
    cast({{ utc_timestamp('created_at') }} as date) as create_date,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
