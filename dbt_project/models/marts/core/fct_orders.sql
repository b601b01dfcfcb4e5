-- One row per order placed by the as-of date: the customer's order sequence, new vs repeat,
-- net revenue after returns and cancellations, and gross margin from the lines.
{{ incremental_by_customer_config() }}
-- Scheduled after int_customer_purchase_stats (not a data dependency): both read every order,
-- and side by side under the memory limit they spill (see dbt_project.yml, on concurrency).
-- depends_on: {{ ref('int_customer_purchase_stats') }}

with

orders as (
    select * from {{ ref('int_orders_enriched') }}
    {%- if is_incremental() %}
        -- Customers whose orders were recomputed since this model was last built.
        where customer_id in (
            select customer_id from {{ ref('int_orders_enriched') }}
            where {{ built_since_last_run() }}
        )
    {%- endif %}
),

final as (
    select
        -- ids
        order_id,
        customer_id,

        -- strings
        order_status,
        currency_code,
        sales_channel,
        case
            when purchase_sequence_number = 1 then 'new'
            when purchase_sequence_number > 1 then 'repeat'
        end as customer_order_type,

        -- numerics
        customer_order_number,
        purchase_sequence_number,
        line_count,
        total_amount,
        discount_amount,
        net_revenue,
        cost_of_goods,
        gross_margin,
        gross_margin / nullif(net_revenue, 0) as gross_margin_ratio,
        days_since_previous_purchase,

        -- booleans
        is_purchase,
        purchase_sequence_number = 1 as is_first_purchase,

        -- timestamps
        ordered_at,
        ordered_on,

        -- lineage
        {{ built_at() }} as built_at

    from orders
)

select * from final
