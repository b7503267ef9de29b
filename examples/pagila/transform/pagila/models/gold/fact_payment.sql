{# One row per payment, with the store (that held the rented copy) and the film it paid for. #}
select
    payment.payment_id,
    {{ date_key('payment.payment_date') }} as payment_date_key,
    payment.payment_date,
    payment.customer_id,
    payment.staff_id,
    payment.rental_id,
    inventory.store_id,
    inventory.film_id,
    payment.amount
from {{ ref('payment') }} as payment
left join {{ ref('rental') }} as rental on rental.rental_id = payment.rental_id
left join {{ ref('inventory') }} as inventory on inventory.inventory_id = rental.inventory_id
