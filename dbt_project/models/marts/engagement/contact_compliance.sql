-- One row per customer × contact type their category requires (seed `contact_regulation`) as
-- of the date: the last contact that counts, when the next one was due and how many days it is
-- overdue. Do-not-contact customers are left out; consent-only types (newsletters) are
-- required only of customers with marketing consent.
with

customers as (
    select
        customer_id,
        customer_name,
        manager_id,
        has_marketing_consent,
        is_do_not_contact,
        created_at
    from {{ ref('stg_crm__customers') }}
),

managers as (
    select
        manager_id,
        manager_name
    from {{ ref('stg_crm__managers') }}
),

activities as (
    select
        customer_id,
        activity_type,
        direction,
        outcome,
        is_reached,
        occurred_at
    from {{ ref('stg_crm__activities') }}
),

abc as (
    select
        customer_id,
        abc_class,
        is_vip
    from {{ ref('int_customer_abc') }}
),

purchase_stats as (
    select
        customer_id,
        first_purchase_on
    from {{ ref('int_customer_purchase_stats') }}
),

regulation as (
    select
        customer_category,
        contact_type,
        every_days
    from {{ ref('contact_regulation') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

customers_as_of as (
    -- Cards that existed by the end of the as-of day, except those that must not be contacted.
    select
        customers.customer_id,
        customers.customer_name,
        customers.manager_id,
        customers.has_marketing_consent,
        customers.created_at,
        as_of.as_of_date
    from customers
    cross join as_of
    where
        customers.created_at < {{ dbt.dateadd("day", 1, "as_of.as_of_date") }}
        and not customers.is_do_not_contact
),

categorised as (
    -- VIP first, else the ABC class; a customer who has not bought yet is C. The regulation
    -- clock of a never-contacted customer starts at their first purchase, else at the card.
    select
        customers_as_of.*,
        case
            when abc.is_vip then 'VIP'
            else coalesce(abc.abc_class, 'C')
        end as customer_category,
        coalesce(purchase_stats.first_purchase_on, cast(customers_as_of.created_at as date))
            as regulation_start_on
    from customers_as_of
    left join abc on customers_as_of.customer_id = abc.customer_id
    left join purchase_stats on customers_as_of.customer_id = purchase_stats.customer_id
),

required_contacts as (
    select
        categorised.*,
        regulation.contact_type,
        regulation.every_days as required_every_days
    from categorised
    inner join regulation on categorised.customer_category = regulation.customer_category
    where
        categorised.has_marketing_consent
        or not {{ value_in("regulation.contact_type", var("contact_consent_types")) }}
),

counted_contacts as (
    -- Activities up to the end of the as-of day that satisfy the regulation: delivered, and
    -- either made by us (an unanswered outbound call still counts) or answered when inbound.
    select
        activities.customer_id,
        activities.activity_type,
        max(activities.occurred_at) as last_contact_at
    from activities
    cross join as_of
    where
        activities.occurred_at < {{ dbt.dateadd("day", 1, "as_of.as_of_date") }}
        and not coalesce(
            {{ value_in("activities.outcome", var("contact_undelivered_outcomes")) }}, false
        )
        and (
            activities.is_reached
            or (
                activities.direction = 'outbound'
                and not {{ value_in(
                    "activities.activity_type", var("contact_reach_required_types")
                ) }}
            )
        )
    group by activities.customer_id, activities.activity_type
),

scheduled as (
    select
        required_contacts.*,
        counted_contacts.last_contact_at,
        cast(
            {{ dbt.dateadd(
                "day",
                "required_contacts.required_every_days",
                "coalesce(cast(counted_contacts.last_contact_at as date), "
                ~ "required_contacts.regulation_start_on)"
            ) }} as date
        ) as next_due_date
    from required_contacts
    left join counted_contacts
        on
            required_contacts.customer_id = counted_contacts.customer_id
            and required_contacts.contact_type = counted_contacts.activity_type
),

final as (
    select
        scheduled.customer_id,
        scheduled.customer_name,
        scheduled.customer_category,
        scheduled.contact_type,
        scheduled.required_every_days,
        scheduled.as_of_date,
        scheduled.last_contact_at,
        scheduled.next_due_date,
        greatest(
            {{ dbt.datediff("scheduled.next_due_date", "scheduled.as_of_date", "day") }}, 0
        ) as days_overdue,
        scheduled.next_due_date < scheduled.as_of_date as is_violation,
        scheduled.manager_id,
        managers.manager_name
    from scheduled
    left join managers on scheduled.manager_id = managers.manager_id
)

select * from final
