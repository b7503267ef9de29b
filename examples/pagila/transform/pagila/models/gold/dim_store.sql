{# One row per store, with its address and its manager's name. #}
select
    store.store_id,
    store.manager_staff_id,
    manager.first_name || ' ' || manager.last_name as manager_name,
    address.address,
    address.address2,
    address.district,
    address.postal_code,
    address.phone,
    city.city,
    country.country
from {{ ref('store') }} as store
left join {{ ref('staff') }} as manager on manager.staff_id = store.manager_staff_id
left join {{ ref('address') }} as address on address.address_id = store.address_id
left join {{ ref('city') }} as city on city.city_id = address.city_id
left join {{ ref('country') }} as country on country.country_id = city.country_id
