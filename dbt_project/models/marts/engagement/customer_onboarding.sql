-- One row per customer whose first purchase falls within the last onboarding_days of the
-- as-of date: whether they bought again, whether a manager reached out after the first
-- purchase, and whether onboarding is on track or stalled — no second purchase and no manager
-- contact once onboarding_stall_interval_multiple × their expected interval has passed.
with

stats as (
    select
        customer_id,
        first_purchase_at,
        first_purchase_on,
        purchase_count
    from {{ ref('int_customer_purchase_stats') }}
),

second_purchases as (
    select
        customer_id,
        ordered_on as second_purchase_on
    from {{ ref('int_orders_enriched') }}
    where purchase_sequence_number = 2
),

churn as (
    select
        customer_id,
        expected_interval_days
    from {{ ref('customer_churn') }}
),

customers as (
    select
        customer_id,
        manager_id
    from {{ ref('stg_crm__customers') }}
),

activities as (
    select
        customer_id,
        manager_id,
        activity_type,
        direction,
        outcome,
        occurred_at
    from {{ ref('stg_crm__activities') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

new_customers as (
    select
        stats.customer_id,
        stats.first_purchase_at,
        stats.first_purchase_on,
        stats.purchase_count,
        as_of.as_of_date,
        {{ dbt.datediff("stats.first_purchase_on", "as_of.as_of_date", "day") }}
            as days_since_first_order
    from stats
    cross join as_of
    where
        {{ dbt.datediff("stats.first_purchase_on", "as_of.as_of_date", "day") }}
        < {{ var('onboarding_days') }}
),

manager_contacts as (
    -- Outbound calls, meetings and e-mails by any manager from the first purchase to the end
    -- of the as-of day, answered or not — the manager reached out — unless undelivered.
    select
        new_customers.customer_id,
        min(activities.occurred_at) as first_manager_contact_at
    from new_customers
    inner join activities on new_customers.customer_id = activities.customer_id
    where
        activities.manager_id is not null
        and activities.direction = 'outbound'
        and {{ value_in("activities.activity_type", var("onboarding_contact_types")) }}
        and not coalesce(
            {{ value_in("activities.outcome", var("contact_undelivered_outcomes")) }}, false
        )
        and activities.occurred_at >= new_customers.first_purchase_at
        and activities.occurred_at
        < {{ dbt.dateadd("day", 1, "new_customers.as_of_date") }}
    group by new_customers.customer_id
),

assessed as (
    select
        new_customers.*,
        customers.manager_id,
        second_purchases.second_purchase_on,
        new_customers.purchase_count >= 2 as has_second_order,
        manager_contacts.first_manager_contact_at,
        manager_contacts.first_manager_contact_at is not null as has_manager_contact,
        churn.expected_interval_days,
        {{ var('onboarding_stall_interval_multiple') }} * churn.expected_interval_days
            as stall_after_days
    from new_customers
    left join customers on new_customers.customer_id = customers.customer_id
    left join second_purchases on new_customers.customer_id = second_purchases.customer_id
    left join manager_contacts on new_customers.customer_id = manager_contacts.customer_id
    left join churn on new_customers.customer_id = churn.customer_id
),

final as (
    select
        customer_id,
        manager_id,
        as_of_date,
        first_purchase_on,
        days_since_first_order,
        purchase_count,
        has_second_order,
        second_purchase_on,
        first_manager_contact_at,
        has_manager_contact,
        expected_interval_days,
        stall_after_days,
        case
            when
                not has_second_order
                and not has_manager_contact
                and coalesce(days_since_first_order > stall_after_days, false)
                then 'stalled'
            else 'on track'
        end as status
    from assessed
)

select * from final
