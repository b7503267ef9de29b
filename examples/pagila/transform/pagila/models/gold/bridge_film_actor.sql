{# One row per (film, actor), with the actor's name. #}
select
    film_actor.film_id,
    film_actor.actor_id,
    actor.first_name || ' ' || actor.last_name as actor_name
from {{ ref('film_actor') }} as film_actor
inner join {{ ref('actor') }} as actor on actor.actor_id = film_actor.actor_id
