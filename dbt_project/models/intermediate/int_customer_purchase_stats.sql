-- One row per customer with at least one purchase by the as-of date: their purchase rhythm,
-- value and the recency-frequency-tenure summary the purchase models are fitted on.
with

purchases as (
    select * from {{ ref('int_orders_enriched') }}
    where is_purchase
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

per_customer as (
    select
        purchases.customer_id,
        as_of.as_of_date,
        min(purchases.ordered_at) as first_purchase_at,
        max(purchases.ordered_at) as last_purchase_at,
        min(purchases.ordered_on) as first_purchase_on,
        max(purchases.ordered_on) as last_purchase_on,
        count(*) as purchase_count,
        -- BG/NBD counts purchase days, not orders: two orders on one day are one transaction.
        -- Purchases are sequenced in time, so a day is counted at its first purchase (one
        -- pass instead of a distinct count).
        sum(
            case
                when
                    purchases.previous_purchase_at is null
                    or cast(purchases.previous_purchase_at as date) <> purchases.ordered_on
                    then 1
                else 0
            end
        ) as purchase_days,
        sum(purchases.net_revenue) as net_revenue,
        sum(purchases.gross_margin) as gross_margin,
        sum(case when purchases.cost_of_goods is null then 1 else 0 end)
            as purchases_without_cost,
        count(purchases.days_since_previous_purchase) as gap_count,
        {{ median('purchases.days_since_previous_purchase') }} as median_gap_days,
        avg(purchases.days_since_previous_purchase) as mean_gap_days,
        stddev_samp(purchases.days_since_previous_purchase) as stddev_gap_days,
        avg(case when purchases.purchase_sequence_number > 1 then purchases.net_revenue end)
            as mean_repeat_order_value,
        sum(
            case
                when purchases.ordered_on > {{ dbt.dateadd("day", -90, "as_of.as_of_date") }}
                    then purchases.net_revenue
                else 0
            end
        ) as net_revenue_last_90d,
        sum(
            case
                when
                    purchases.ordered_on > {{ dbt.dateadd("day", -180, "as_of.as_of_date") }}
                    and purchases.ordered_on
                    <= {{ dbt.dateadd("day", -90, "as_of.as_of_date") }}
                    then purchases.net_revenue
                else 0
            end
        ) as net_revenue_prior_90d,
        sum(
            case
                when
                    purchases.ordered_on
                    > {{ dbt.dateadd("day", -var('segment_window_days'), "as_of.as_of_date") }}
                    then purchases.net_revenue
                else 0
            end
        ) as net_revenue_trailing_window,
        sum(
            case
                when
                    purchases.ordered_on
                    > {{ dbt.dateadd("day", -var('segment_window_days'), "as_of.as_of_date") }}
                    then 1
                else 0
            end
        ) as purchases_trailing_window
    from purchases
    cross join as_of
    group by purchases.customer_id, as_of.as_of_date
),

final as (
    select
        per_customer.*,
        per_customer.net_revenue / per_customer.purchase_count as average_order_value,
        case
            when per_customer.mean_gap_days > 0
                then per_customer.stddev_gap_days / per_customer.mean_gap_days
        end as gap_coefficient_of_variation,
        {{ dbt.datediff("per_customer.last_purchase_on", "per_customer.as_of_date", "day") }}
            as days_since_last_purchase,
        {{ dbt.datediff("per_customer.first_purchase_on", "per_customer.as_of_date", "day") }}
            as tenure_days,
        -- Recency-frequency-tenure in days, as BG/NBD defines them.
        per_customer.purchase_days - 1 as bgnbd_frequency,
        {{ dbt.datediff("per_customer.first_purchase_on", "per_customer.last_purchase_on", "day") }}
            as bgnbd_recency_days
    from per_customer
)

select * from final
