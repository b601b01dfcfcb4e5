-- One row per audience run and manager (the customer's manager in that run's snapshot; null
-- for customers without one): the measures of audience_outcomes within each manager's
-- customers, so a manager's list can be compared with their own control group.
with

outcome_members as (
    select * from {{ ref('int_audience_outcome_members') }}
),

managers as (
    select
        manager_id,
        manager_name
    from {{ ref('stg_crm__managers') }}
),

members as (
    select
        outcome_members.*,
        managers.manager_name
    from outcome_members
    left join managers on outcome_members.manager_id = managers.manager_id
),

groups as (
    select
        audience_name,
        audience_run_id,
        as_of_date,
        manager_id,
        manager_name,
        window_end_date,
        measured_as_of_date,
        is_window_open,
        count(case when not is_deliverable then 1 end) as undeliverable_members,
        count(case when is_deliverable and not is_control then 1 end) as treated_customers,
        count(case when is_deliverable and is_control then 1 end) as control_customers,
        count(case when is_deliverable and not is_control and is_converted then 1 end)
            as treated_converted,
        count(case when is_deliverable and is_control and is_converted then 1 end)
            as control_converted,
        sum(case when is_deliverable and not is_control then window_revenue else 0 end)
            as treated_revenue,
        sum(case when is_deliverable and is_control then window_revenue else 0 end)
            as control_revenue
    from members
    group by
        audience_name,
        audience_run_id,
        as_of_date,
        manager_id,
        manager_name,
        window_end_date,
        measured_as_of_date,
        is_window_open
),

uplifts as (
    {{ outcome_uplifts('groups') }}
),

final as (
    select
        audience_name,
        audience_run_id,
        as_of_date,
        manager_id,
        manager_name,
        {{ var('audience_outcome_window_days') }} as outcome_window_days,
        window_end_date,
        measured_as_of_date,
        is_window_open,
        undeliverable_members,
        {{ outcome_comparison_columns() }}
    from uplifts
)

select * from final
