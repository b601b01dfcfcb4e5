-- One row per active (not churned) customer whose at-risk score reaches the threshold
-- (customer_health.is_at_risk): contact details, manager, the channel they answer, their top
-- reasons and the action the strongest reason calls for (seed audience_actions).
with

customers as (
    select * from {{ ref('int_audience_customers') }}
),

health as (
    select
        customer_id,
        at_risk_score,
        is_at_risk,
        top_reason_codes,
        top_reasons
    from {{ ref('customer_health') }}
),

churn as (
    select
        customer_id,
        is_churned,
        days_since_last_purchase
    from {{ ref('customer_churn') }}
),

actions as (
    select
        reason_code,
        recommended_action,
        action_text
    from {{ ref('audience_actions') }}
    where audience_name = 'at_risk'
),

at_risk_customers as (
    select
        health.customer_id,
        health.at_risk_score,
        health.top_reason_codes,
        health.top_reasons,
        churn.days_since_last_purchase,
        {{ dbt.split_part("health.top_reason_codes", "','", 1) }} as top_reason_code
    from health
    inner join churn on health.customer_id = churn.customer_id
    where
        health.is_at_risk
        and not churn.is_churned
),

final as (
    select
        {{ audience_identity_columns('at_risk', 'customers') }},
        actions.recommended_action,
        -- At-risk score and value percentile, weighted by audience_at_risk_value_weight, 0–100.
        {{ audience_value_weighted_priority(
            "at_risk_customers.at_risk_score / 100.0", var('audience_at_risk_value_weight')
        ) }} as priority_score,
        at_risk_customers.top_reason_codes as reason_codes,
        at_risk_customers.top_reasons as reason_text,
        {{ audience_permission_columns('at_risk', 'customers') }},

        -- at_risk specifics
        actions.action_text,
        at_risk_customers.at_risk_score,
        at_risk_customers.top_reason_code,
        customers.rfm_segment,
        customers.lifecycle_stage,
        at_risk_customers.days_since_last_purchase,
        customers.net_revenue,
        customers.predicted_clv_12m,
        customers.value_percentile
    from at_risk_customers
    inner join customers on at_risk_customers.customer_id = customers.customer_id
    left join actions on at_risk_customers.top_reason_code = actions.reason_code
)

select * from final
