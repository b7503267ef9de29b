{#
    fact_rental's derived columns agree with each other: a late return is a returned rental that came
    back after its due date, and the due date is `allowed_rental_days` after the rental. Returns the
    rentals that break this.
#}
select rental_id
from {{ ref('fact_rental') }}
where (is_late_return and not is_returned)
    or (is_late_return and return_date <= due_date)
    or (not is_late_return and return_date > due_date)
    or {{ dbt.datediff('rental_date', 'due_date', 'day') }} <> allowed_rental_days
    or (is_returned and rental_duration_days is null)
