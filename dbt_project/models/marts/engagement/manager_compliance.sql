-- One row per manager as of the date: how many of their customers the contact regulation
-- covers, how many required contacts are overdue, the share of customers fully in line, and
-- the same for VIP customers. Managers the customer cards name but the CRM's user list lacks
-- appear too, without a name and not active.
with

compliance as (
    select
        customer_id,
        customer_category,
        manager_id,
        is_violation
    from {{ ref('contact_compliance') }}
    where manager_id is not null
),

managers as (
    select
        manager_id,
        manager_name,
        is_active
    from {{ ref('stg_crm__managers') }}
),

customers as (
    select
        customer_id,
        manager_id,
        created_at
    from {{ ref('stg_crm__customers') }}
    where manager_id is not null
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

assigned as (
    -- Every card naming the manager by the as-of day, do-not-contact ones included.
    select
        customers.manager_id,
        count(distinct customers.customer_id) as assigned_customers
    from customers
    cross join as_of
    where customers.created_at < {{ dbt.dateadd("day", 1, "as_of.as_of_date") }}
    group by customers.manager_id
),

per_customer as (
    select
        manager_id,
        customer_id,
        customer_category = 'VIP' as is_vip,
        count(*) as required_contacts,
        sum(case when is_violation then 1 else 0 end) as violations
    from compliance
    group by manager_id, customer_id, customer_category
),

per_manager as (
    select
        manager_id,
        count(*) as customers,
        sum(required_contacts) as required_contacts,
        sum(violations) as violations,
        sum(case when violations > 0 then 1 else 0 end) as customers_with_violation,
        sum(case when is_vip then 1 else 0 end) as vip_customers,
        sum(case when is_vip then violations else 0 end) as vip_violations,
        sum(case when is_vip and violations > 0 then 1 else 0 end)
            as vip_customers_with_violation
    from per_customer
    group by manager_id
),

manager_ids as (
    select manager_id from managers
    union
    select manager_id from assigned
),

final as (
    select
        manager_ids.manager_id,
        managers.manager_name,
        coalesce(managers.is_active, false) as is_active,
        as_of.as_of_date,
        coalesce(assigned.assigned_customers, 0) as assigned_customers,
        coalesce(per_manager.customers, 0) as customers,
        coalesce(per_manager.required_contacts, 0) as required_contacts,
        coalesce(per_manager.violations, 0) as violations,
        coalesce(per_manager.customers_with_violation, 0) as customers_with_violation,
        1.0 * (per_manager.customers - per_manager.customers_with_violation)
        / nullif(per_manager.customers, 0) as share_compliant,
        coalesce(per_manager.vip_customers, 0) as vip_customers,
        coalesce(per_manager.vip_violations, 0) as vip_violations,
        coalesce(per_manager.vip_customers_with_violation, 0) as vip_customers_with_violation
    from manager_ids
    cross join as_of
    left join managers on manager_ids.manager_id = managers.manager_id
    left join assigned on manager_ids.manager_id = assigned.manager_id
    left join per_manager on manager_ids.manager_id = per_manager.manager_id
)

select * from final
