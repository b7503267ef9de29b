{# `fulltext` (the source's tsvector, as text in bronze) is a search index, not data: dropped. #}
with bronze as (
    {{ latest_by_key(source('br__pagila__public', 'film'), ['film_id']) }}
)

select
    cast(film_id as {{ dbt.type_int() }}) as film_id,
    {{ clean_text('title') }} as title,
    {{ clean_text('description') }} as description,
    cast(release_year as {{ dbt.type_int() }}) as release_year,
    cast(language_id as {{ dbt.type_int() }}) as language_id,
    cast(original_language_id as {{ dbt.type_int() }}) as original_language_id,
    cast(rental_duration as {{ dbt.type_int() }}) as rental_duration,
    cast(rental_rate as numeric(4, 2)) as rental_rate,
    cast(length as {{ dbt.type_int() }}) as length,
    cast(replacement_cost as numeric(5, 2)) as replacement_cost,
    {{ clean_text('rating') }} as rating,
    nullif({{ join_list('special_features', "','") }}, '') as special_features,
    {{ utc_timestamp('last_update') }} as last_update
from bronze
