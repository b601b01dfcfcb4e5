-- One row per big customer (category in var audience_big_lapsed_categories: VIP and A) who has
-- not bought for longer than their usual interval (customer_churn.overdue_ratio above var
-- audience_big_lapsed_min_overdue_ratio), churned or not: the managers' list of big accounts
-- slipping away.
with

customers as (
    select * from {{ ref('int_audience_customers') }}
),

churn as (
    select
        customer_id,
        expected_interval_days,
        last_purchase_on,
        days_since_last_purchase,
        overdue_ratio,
        is_churned,
        broken_pattern
    from {{ ref('customer_churn') }}
),

actions as (
    select
        reason_code,
        recommended_action,
        action_text
    from {{ ref('audience_actions') }}
    where audience_name = 'big_lapsed'
),

lapsed as (
    select
        churn.*,
        case
            when churn.broken_pattern then 'broken_pattern'
            else 'overdue_purchase'
        end as top_reason_code,
        -- How far the customer has slid from their usual interval toward the churn threshold:
        -- 0 just past the interval, 1 at churn_overdue_multiple × the interval and beyond.
        coalesce(
            least(
                (churn.overdue_ratio - {{ var('audience_big_lapsed_min_overdue_ratio') }})
                / nullif(
                    {{ var('churn_overdue_multiple') }}
                    - {{ var('audience_big_lapsed_min_overdue_ratio') }},
                    0
                ),
                1
            ),
            1
        ) as lapse_progress
    from churn
    inner join customers on churn.customer_id = customers.customer_id
    where
        {{ value_in("customers.customer_category", var("audience_big_lapsed_categories")) }}
        and churn.overdue_ratio > {{ var('audience_big_lapsed_min_overdue_ratio') }}
),

final as (
    select
        {{ audience_identity_columns('big_lapsed', 'customers') }},
        actions.recommended_action,
        -- Lapse progress and value percentile, weighted by audience_big_lapsed_value_weight.
        {{ audience_value_weighted_priority(
            "lapsed.lapse_progress", var('audience_big_lapsed_value_weight')
        ) }} as priority_score,
        case
            when lapsed.broken_pattern then 'broken_pattern,overdue_purchase'
            else 'overdue_purchase'
        end as reason_codes,
        {{ dbt.concat([
            "'No purchase for '",
            "cast(lapsed.days_since_last_purchase as " ~ dbt.type_string() ~ ")",
            "' days; usually buys every '",
            "cast(cast(round(lapsed.expected_interval_days) as " ~ dbt.type_int() ~ ") as "
            ~ dbt.type_string() ~ ")",
            "' days'"
        ]) }} as reason_text,
        {{ audience_permission_columns('big_lapsed', 'customers') }},

        -- big_lapsed specifics
        actions.action_text,
        lapsed.overdue_ratio,
        lapsed.expected_interval_days,
        lapsed.last_purchase_on,
        lapsed.days_since_last_purchase,
        lapsed.is_churned,
        lapsed.broken_pattern,
        customers.net_revenue,
        customers.predicted_clv_12m,
        customers.value_percentile
    from lapsed
    inner join customers on lapsed.customer_id = customers.customer_id
    left join actions on lapsed.top_reason_code = actions.reason_code
)

select * from final
