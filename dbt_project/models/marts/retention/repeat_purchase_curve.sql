-- One row per n = 1, 2, 3 …: how many customers reached n purchases, how likely an
-- (n+1)-th purchase was, and how long it took.
with

purchases as (
    select
        customer_id,
        purchase_sequence_number,
        days_since_previous_purchase
    from {{ ref('int_orders_enriched') }}
    where is_purchase
),

reached as (
    select
        purchase_sequence_number as purchase_number,
        count(*) as customers_with_at_least_n
    from purchases
    group by purchase_sequence_number
),

next_purchase_gaps as (
    -- The gap into purchase n+1, attributed to n.
    select
        purchase_sequence_number - 1 as purchase_number,
        {{ median('days_since_previous_purchase') }} as median_days_to_next_purchase
    from purchases
    where purchase_sequence_number > 1
    group by purchase_sequence_number
),

final as (
    select
        reached.purchase_number,
        reached.customers_with_at_least_n,
        coalesce(next_reached.customers_with_at_least_n, 0) as customers_with_next_purchase,
        1.0 * coalesce(next_reached.customers_with_at_least_n, 0)
        / reached.customers_with_at_least_n as probability_of_next_purchase,
        next_purchase_gaps.median_days_to_next_purchase
    from reached
    left join reached as next_reached
        on reached.purchase_number + 1 = next_reached.purchase_number
    left join next_purchase_gaps on reached.purchase_number = next_purchase_gaps.purchase_number
)

select * from final
