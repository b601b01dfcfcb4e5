-- One row per customer purchase day: the spell during which that purchase keeps the customer
-- in the active base. A spell ends the day before the next purchase, or at churn — the first
-- day the gap exceeds the customer's churn threshold (see customer_churn). Spells of one
-- customer never overlap, so the active base on any day is the number of spells covering it.
with

purchases as (
    select
        customer_id,
        ordered_on,
        sum(net_revenue) as net_revenue
    from {{ ref('int_orders_enriched') }}
    where is_purchase
    group by customer_id, ordered_on
),

thresholds as (
    select
        customer_id,
        as_of_date,
        cast(floor(churn_threshold_days) as {{ dbt.type_int() }}) as threshold_days
    from {{ ref('customer_churn') }}
),

sequenced as (
    select
        purchases.customer_id,
        purchases.ordered_on as spell_start,
        thresholds.as_of_date,
        thresholds.threshold_days,
        lag(purchases.ordered_on) over (
            partition by purchases.customer_id order by purchases.ordered_on
        ) as previous_purchase_on,
        lead(purchases.ordered_on) over (
            partition by purchases.customer_id order by purchases.ordered_on
        ) as next_purchase_on,
        min(purchases.ordered_on) over (partition by purchases.customer_id)
            as first_purchase_on,
        sum(purchases.net_revenue) over (
            partition by purchases.customer_id order by purchases.ordered_on
            rows between unbounded preceding and current row
        ) as cumulative_net_revenue
    from purchases
    inner join thresholds on purchases.customer_id = thresholds.customer_id
),

dated as (
    select
        sequenced.*,
        {{ dbt.dateadd("day", "threshold_days + 1", "spell_start") }} as lapse_date,
        {{ dbt.dateadd("day", "threshold_days + 1", "previous_purchase_on") }}
            as previous_lapse_date
    from sequenced
),

final as (
    select
        customer_id,
        spell_start,
        case
            when next_purchase_on is not null and next_purchase_on < lapse_date
                then {{ dbt.dateadd("day", -1, "next_purchase_on") }}
            else {{ dbt.dateadd("day", -1, "lapse_date") }}
        end as spell_end,
        first_purchase_on,
        spell_start = first_purchase_on as is_acquisition,
        coalesce(spell_start >= previous_lapse_date, false) as is_reactivation,
        -- Churn happens at the lapse date when no purchase came strictly before it and it has
        -- passed; a purchase on the lapse date itself is a same-day reactivation.
        case
            when
                (next_purchase_on is null or next_purchase_on >= lapse_date)
                and lapse_date <= as_of_date
                then lapse_date
        end as churn_date,
        cumulative_net_revenue
    from dated
)

select * from final
