-- One row per customer known by the as-of date (leads without a purchase included): profile,
-- manager, consent and channel, purchase history and value, and the latest segment,
-- lifecycle stage, health score, P(alive) and predicted CLV.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

managers as (
    select
        manager_id,
        manager_name,
        is_active
    from {{ ref('stg_crm__managers') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

segments as (
    select * from {{ ref('customer_segments') }}
),

health as (
    select
        customer_id,
        at_risk_score,
        is_at_risk,
        top_reason_codes
    from {{ ref('customer_health') }}
),

predictions as (
    select
        customer_id,
        p_alive,
        predicted_clv_12m
    from {{ ref('customer_clv_predictions') }}
),

final as (
    select
        -- ids
        customers.customer_id,
        customers.manager_id,
        customers.referred_by_customer_id,

        -- profile
        customers.customer_name,
        customers.email,
        customers.phone,
        customers.company,
        customers.is_business,
        customers.city,
        customers.country_code,
        customers.acquisition_channel,
        customers.preferred_channel,
        customers.has_marketing_consent,
        customers.is_do_not_contact,
        managers.manager_name,
        coalesce(managers.is_active, false) as is_manager_active,

        -- purchase history
        customers.created_at,
        stats.first_purchase_at,
        stats.last_purchase_at,
        coalesce(stats.purchase_count, 0) as purchase_count,
        coalesce(stats.net_revenue, 0) as net_revenue,
        stats.gross_margin,
        stats.average_order_value,
        stats.tenure_days,
        stats.days_since_last_purchase,

        -- segments and scores
        coalesce(segments.customer_category, 'C') as customer_category,
        segments.abc_class,
        coalesce(segments.is_vip, customers.is_crm_vip) as is_vip,
        segments.rfm_segment,
        case
            when stats.customer_id is null then 'lead'
            else segments.lifecycle_stage
        end as lifecycle_stage,
        segments.loyalty_profile,
        health.at_risk_score,
        coalesce(health.is_at_risk, false) as is_at_risk,
        health.top_reason_codes,
        predictions.p_alive,
        predictions.predicted_clv_12m,
        as_of.as_of_date

    from customers
    cross join as_of
    left join managers on customers.manager_id = managers.manager_id
    left join stats on customers.customer_id = stats.customer_id
    left join segments on customers.customer_id = segments.customer_id
    left join health on customers.customer_id = health.customer_id
    left join predictions on customers.customer_id = predictions.customer_id
    where cast(customers.created_at as date) <= as_of.as_of_date
)

select * from final
