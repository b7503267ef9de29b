{#
    One row per film, with its language, its categories and its actors. `category_id`/`category_name`
    are the primary category (see bridge_film_category); `categories` lists all of them.
#}
with categories as (
    select
        film_id,
        count(*) as category_count,
        {{ ordered_listagg('category_name', "', '", ['category_name']) }} as categories
    from {{ ref('bridge_film_category') }}
    group by film_id
),

primary_category as (
    select film_id, category_id, category_name
    from {{ ref('bridge_film_category') }}
    where is_primary
),

actors as (
    select
        film_actor.film_id,
        count(*) as actor_count,
        {{ ordered_listagg(
            "actor.first_name || ' ' || actor.last_name",
            "', '",
            ['actor.last_name', 'actor.first_name', 'actor.actor_id']
        ) }} as actors
    from {{ ref('film_actor') }} as film_actor
    inner join {{ ref('actor') }} as actor on actor.actor_id = film_actor.actor_id
    group by film_actor.film_id
)

select
    film.film_id,
    film.title,
    film.description,
    film.release_year,
    language.name as language,
    original_language.name as original_language,
    film.rental_duration,
    film.rental_rate,
    film.length,
    film.replacement_cost,
    film.rating,
    film.special_features,
    primary_category.category_id,
    primary_category.category_name,
    coalesce(categories.category_count, 0) as category_count,
    categories.categories,
    coalesce(actors.actor_count, 0) as actor_count,
    actors.actors
from {{ ref('film') }} as film
left join {{ ref('language') }} as language on language.language_id = film.language_id
left join {{ ref('language') }} as original_language
    on original_language.language_id = film.original_language_id
left join primary_category on primary_category.film_id = film.film_id
left join categories on categories.film_id = film.film_id
left join actors on actors.film_id = film.film_id
