-- One row per member of each audience run in audience_membership_history: whether the customer
-- could be reached (deliverable), which group they were in, and their purchases in the outcome
-- window — the audience_outcome_window_days after the run's as-of date, as far as known by the
-- current as-of date.
with

history as (
    select
        audience_name,
        audience_run_id,
        as_of_date,
        customer_id,
        manager_id,
        is_control,
        marketing_allowed,
        contact_allowed
    from {{ ref('audience_membership_history') }}
    where is_member
),

purchases as (
    select
        customer_id,
        ordered_on,
        net_revenue
    from {{ ref('int_orders_enriched') }}
    where is_purchase
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

windows as (
    -- Managers' lists reach whoever may be contacted; campaigns only those who consented.
    select
        history.*,
        cast(
            {{ dbt.dateadd("day", var('audience_outcome_window_days'), "history.as_of_date") }}
            as date
        ) as window_end_date,
        as_of.as_of_date as measured_as_of_date,
        coalesce(
            case
                when {{ value_in("history.audience_name", var("audience_manager_audiences")) }}
                    then history.contact_allowed
                else history.marketing_allowed
            end,
            false
        ) as is_deliverable
    from history
    cross join as_of
),

window_purchases as (
    -- Purchases after the as-of day up to the window's last day (int_orders_enriched stops at
    -- the current as-of date, so an open window counts what is known so far).
    select
        windows.audience_name,
        windows.as_of_date,
        windows.customer_id,
        count(*) as window_purchase_count,
        sum(purchases.net_revenue) as window_revenue
    from windows
    inner join purchases
        on
            windows.customer_id = purchases.customer_id
            and windows.as_of_date < purchases.ordered_on
            and windows.window_end_date >= purchases.ordered_on
    group by windows.audience_name, windows.as_of_date, windows.customer_id
),

final as (
    select
        windows.audience_name,
        windows.audience_run_id,
        windows.as_of_date,
        windows.customer_id,
        windows.manager_id,
        windows.is_control,
        windows.is_deliverable,
        windows.window_end_date,
        windows.measured_as_of_date,
        windows.window_end_date > windows.measured_as_of_date as is_window_open,
        coalesce(window_purchases.window_purchase_count, 0) as window_purchase_count,
        coalesce(window_purchases.window_revenue, 0) as window_revenue,
        window_purchases.customer_id is not null as is_converted
    from windows
    left join window_purchases
        on
            windows.audience_name = window_purchases.audience_name
            and windows.as_of_date = window_purchases.as_of_date
            and windows.customer_id = window_purchases.customer_id
)

select * from final
