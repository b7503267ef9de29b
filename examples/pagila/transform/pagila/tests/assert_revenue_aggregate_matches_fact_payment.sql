{#
    The revenue aggregate loses and double-counts nothing: per month, its payments and revenue equal
    fact_payment's. Returns the months that differ. (Gold models only, so a `--select silver` step never
    picks this test up before gold exists.)
#}
with facts as (
    select
        cast({{ dbt.date_trunc('month', 'payment_date') }} as date) as revenue_month,
        count(*) as payment_count,
        sum(amount) as revenue
    from {{ ref('fact_payment') }}
    group by 1
),

aggregate as (
    select revenue_month, sum(payment_count) as payment_count, sum(revenue) as revenue
    from {{ ref('agg_monthly_revenue_by_store_category') }}
    group by 1
)

select
    coalesce(facts.revenue_month, aggregate.revenue_month) as revenue_month,
    facts.payment_count as fact_payments,
    aggregate.payment_count as aggregate_payments,
    facts.revenue as fact_revenue,
    aggregate.revenue as aggregate_revenue
from facts
full outer join aggregate on aggregate.revenue_month = facts.revenue_month
where facts.revenue_month is null
    or aggregate.revenue_month is null
    or facts.payment_count <> aggregate.payment_count
    or facts.revenue <> aggregate.revenue
