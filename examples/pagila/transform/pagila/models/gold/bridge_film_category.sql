{#
    One row per (film, category). A Pagila film may have several categories; `is_primary` marks the
    one dim_film and the revenue aggregate use (the lowest category_id: the source ranks none).
#}
with primary_category as (
    select film_id, min(category_id) as category_id
    from {{ ref('film_category') }}
    group by film_id
)

select
    film_category.film_id,
    film_category.category_id,
    category.name as category_name,
    case when primary_category.category_id is null then false else true end as is_primary
from {{ ref('film_category') }} as film_category
inner join {{ ref('category') }} as category on category.category_id = film_category.category_id
left join primary_category
    on primary_category.film_id = film_category.film_id
    and primary_category.category_id = film_category.category_id
