{# One row per staff member, with the address and whether they manage a store. #}
with managers as (
    select distinct manager_staff_id from {{ ref('store') }}
)

select
    staff.staff_id,
    staff.first_name,
    staff.last_name,
    staff.first_name || ' ' || staff.last_name as full_name,
    staff.email,
    staff.username,
    staff.active,
    staff.store_id,
    case when managers.manager_staff_id is null then false else true end as is_store_manager,
    address.address,
    address.district,
    city.city,
    country.country
from {{ ref('staff') }} as staff
left join managers on managers.manager_staff_id = staff.staff_id
left join {{ ref('address') }} as address on address.address_id = staff.address_id
left join {{ ref('city') }} as city on city.city_id = address.city_id
left join {{ ref('country') }} as country on country.country_id = city.country_id
