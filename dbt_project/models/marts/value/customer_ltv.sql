-- One row per customer with a purchase: historical value, the formula LTV of their ABC class
-- (AOV × T × AGM × ALT, see ltv_formula_by_segment) and the predictive CLV from BG/NBD and
-- Gamma-Gamma (customer_clv_predictions).
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

segments as (
    select
        customer_id,
        abc_class,
        customer_category,
        rfm_segment
    from {{ ref('customer_segments') }}
),

formula as (
    select * from {{ ref('ltv_formula_by_segment') }}
    where segment_type = 'abc_class'
),

predictions as (
    select * from {{ ref('customer_clv_predictions') }}
),

final as (
    select
        stats.customer_id,
        stats.as_of_date,
        segments.abc_class,
        segments.customer_category,
        segments.rfm_segment,
        stats.first_purchase_on,
        stats.purchase_count,
        stats.net_revenue as historical_net_revenue,
        stats.gross_margin as historical_gross_margin,
        stats.average_order_value,
        stats.gross_margin / nullif(stats.net_revenue, 0) as gross_margin_ratio,
        formula.average_order_value as segment_average_order_value,
        formula.orders_per_customer_year as segment_orders_per_year,
        formula.gross_margin_ratio as segment_gross_margin_ratio,
        formula.average_lifetime_years as segment_average_lifetime_years,
        formula.formula_ltv as segment_formula_ltv,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        predictions.expected_purchases_365d,
        predictions.expected_order_value,
        predictions.predicted_clv_12m
    from stats
    inner join segments on stats.customer_id = segments.customer_id
    left join formula on segments.abc_class = formula.segment_value
    left join predictions on stats.customer_id = predictions.customer_id
)

select * from final
