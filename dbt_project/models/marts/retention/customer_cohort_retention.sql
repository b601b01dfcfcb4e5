-- One row per acquisition month × months since the first purchase (0, 1, 2 …) up to the
-- as-of date: how many of the cohort bought in that month and what they spent.
with

orders as (
    select
        customer_id,
        ordered_on,
        net_revenue
    from {{ ref('int_orders_enriched') }}
    where is_purchase
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

orders_by_month as (
    select
        customer_id,
        net_revenue,
        cast({{ dbt.date_trunc('month', 'ordered_on') }} as date) as order_month
    from orders
),

first_purchases as (
    select
        customer_id,
        min(order_month) as cohort_month
    from orders_by_month
    group by customer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_purchases
    group by cohort_month
),

order_months as (
    select distinct order_month from orders_by_month
),

offsets as (
    -- Every month from the cohort's first to the as-of month, bought in or not.
    select
        cohort_sizes.cohort_month,
        {{ dbt.datediff("cohort_sizes.cohort_month", "order_months.order_month", "month") }}
            as months_since_first_order
    from cohort_sizes
    inner join order_months on cohort_sizes.cohort_month <= order_months.order_month
),

activity as (
    select
        first_purchases.cohort_month,
        {{ dbt.datediff("first_purchases.cohort_month", "orders_by_month.order_month", "month") }}
            as months_since_first_order,
        count(distinct orders_by_month.customer_id) as active_customers,
        sum(orders_by_month.net_revenue) as net_revenue
    from orders_by_month
    inner join first_purchases on orders_by_month.customer_id = first_purchases.customer_id
    group by first_purchases.cohort_month, orders_by_month.order_month
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

dated as (
    select
        combined.*,
        cast(
            {{ dbt.dateadd("month", "combined.months_since_first_order", "combined.cohort_month") }}
            as date
        ) as activity_month,
        as_of.as_of_date
    from combined
    cross join as_of
),

final as (
    select
        cohort_month,
        months_since_first_order,
        activity_month,
        cohort_size,
        active_customers,
        round(100.0 * active_customers / cohort_size, 2) as customer_retention_pct,
        net_revenue,
        round(
            100.0 * net_revenue / nullif(
                first_value(net_revenue) over (
                    partition by cohort_month order by months_since_first_order
                ),
                0
            ),
            2
        ) as revenue_retention_pct,
        sum(net_revenue) over (
            partition by cohort_month order by months_since_first_order
            rows between unbounded preceding and current row
        ) / cohort_size as cumulative_revenue_per_customer,
        {{ dbt.dateadd("month", 1, "activity_month") }}
        > {{ dbt.dateadd("day", 1, "as_of_date") }} as is_partial_month
    from dated
)

select * from final
