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
        {{ outcome_group_counts() | indent(8) }}
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
