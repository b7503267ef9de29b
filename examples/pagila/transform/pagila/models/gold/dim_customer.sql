{# One row per customer, with its address, city and country flattened in. #}
select
    customer.customer_id,
    customer.first_name,
    customer.last_name,
    customer.first_name || ' ' || customer.last_name as full_name,
    customer.email,
    customer.active,
    customer.activebool,
    customer.create_date,
    customer.store_id,
    address.address,
    address.address2,
    address.district,
    address.postal_code,
    address.phone,
    city.city,
    country.country
from {{ ref('customer') }} as customer
left join {{ ref('address') }} as address on address.address_id = customer.address_id
left join {{ ref('city') }} as city on city.city_id = address.city_id
left join {{ ref('country') }} as country on country.country_id = city.country_id
