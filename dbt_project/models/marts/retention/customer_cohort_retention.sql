-- One row per acquisition month × months since the first purchase (0, 1, 2 …) up to the
-- as-of date: how many of the cohort bought in that month and what they spent.
with

orders as (
    select customer_id, ordered_on, net_revenue
    from {{ ref('int_orders_enriched') }}
    where is_purchase
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

first_purchases as (
    select
        customer_id,
        cast({{ dbt.date_trunc('month', 'min(ordered_on)') }} as date) as cohort_month
    from orders
    group by customer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_purchases
    group by cohort_month
),

offsets as (
    -- Every month from the cohort's first to the as-of month, bought in or not.
    select distinct
        cohort_sizes.cohort_month,
        {{ dbt.datediff("cohort_sizes.cohort_month", dbt.date_trunc('month', 'orders.ordered_on'), "month") }}
            as months_since_first_order
    from cohort_sizes
    cross join (select distinct ordered_on from orders) as orders
    where orders.ordered_on >= cohort_sizes.cohort_month
),

activity as (
    select
        first_purchases.cohort_month,
        {{ dbt.datediff("first_purchases.cohort_month", dbt.date_trunc('month', 'orders.ordered_on'), "month") }}
            as months_since_first_order,
        count(distinct orders.customer_id) as active_customers,
        sum(orders.net_revenue) as net_revenue
    from orders
    inner join first_purchases on orders.customer_id = first_purchases.customer_id
    group by 1, 2
),

combined as (
    select
        offsets.cohort_month,
        offsets.months_since_first_order,
        cohort_sizes.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.net_revenue, 0) as net_revenue
    from offsets
    inner join cohort_sizes on offsets.cohort_month = cohort_sizes.cohort_month
    left join activity
        on
            offsets.cohort_month = activity.cohort_month
            and offsets.months_since_first_order = activity.months_since_first_order
),

final as (
    select
        combined.cohort_month,
        combined.months_since_first_order,
        cast({{ dbt.dateadd("month", "combined.months_since_first_order", "combined.cohort_month") }} as date)
            as activity_month,
        combined.cohort_size,
        combined.active_customers,
        round(100.0 * combined.active_customers / combined.cohort_size, 2)
            as customer_retention_pct,
        combined.net_revenue,
        round(
            100.0 * combined.net_revenue / nullif(
                first_value(combined.net_revenue) over (
                    partition by combined.cohort_month order by combined.months_since_first_order
                ),
                0
            ),
            2
        ) as revenue_retention_pct,
        sum(combined.net_revenue) over (
            partition by combined.cohort_month order by combined.months_since_first_order
            rows between unbounded preceding and current row
        ) / combined.cohort_size as cumulative_revenue_per_customer,
        {{ dbt.dateadd("month", "combined.months_since_first_order + 1", "combined.cohort_month") }}
        > {{ dbt.dateadd("day", 1, "as_of.as_of_date") }} as is_partial_month
    from combined
    cross join as_of
)

select * from final
