-- One row per audience run in audience_membership_history: the deliverable members split into
-- treated and control, conversion (a purchase within audience_outcome_window_days after the
-- run's as-of date) and revenue per customer in each group, and the uplift in conversion with
-- its confidence interval (normal approximation for a difference of proportions).
with

members as (
    select * from {{ ref('int_audience_outcome_members') }}
),

groups as (
    select
        audience_name,
        audience_run_id,
        as_of_date,
        window_end_date,
        measured_as_of_date,
        is_window_open,
        {{ outcome_group_counts() | indent(8) }}
    from members
    group by
        audience_name,
        audience_run_id,
        as_of_date,
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
        {{ var('audience_outcome_window_days') }} as outcome_window_days,
        window_end_date,
        measured_as_of_date,
        is_window_open,
        undeliverable_members,
        {{ outcome_comparison_columns() }}
    from uplifts
)

select * from final
