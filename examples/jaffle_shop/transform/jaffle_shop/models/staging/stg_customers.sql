select
    id as customer_id,
    first_name,
    last_name
from {{ source('br__jaffle__main', 'raw_customers') }}
