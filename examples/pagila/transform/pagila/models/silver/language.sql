{# The source's name is character(20): trimmed of its padding. #}
with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'language'), ['language_id']) }}
)

select
    cast(language_id as {{ dbt.type_int() }}) as language_id,
    {{ clean_text('name') }} as name,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
