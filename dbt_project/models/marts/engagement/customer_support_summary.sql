-- One row per customer with at least one support ticket opened by the end of the as-of day:
-- open tickets, recent tickets and complaints (trailing health_complaint_window_days),
-- satisfaction and the latest ticket. Customers without tickets are absent (read as zero).
with

tickets as (
    select * from {{ ref('support_metrics') }}
),

windowed as (
    select
        tickets.*,
        coalesce(
            cast(tickets.opened_at as date)
            > {{ dbt.dateadd("day", -var('health_complaint_window_days'), "tickets.as_of_date") }},
            false
        ) as is_in_window,
        coalesce(
            tickets.satisfaction_score <= {{ var('health_low_satisfaction_max') }}, false
        ) as is_low_satisfaction
    from tickets
),

final as (
    select
        customer_id,
        as_of_date,
        count(*) as tickets,
        sum(case when is_open then 1 else 0 end) as open_tickets,
        sum(case when is_in_window then 1 else 0 end) as tickets_last_90d,
        sum(case when is_in_window and is_complaint then 1 else 0 end) as complaints_last_90d,
        count(satisfaction_score) as rated_tickets,
        avg(1.0 * satisfaction_score) as avg_satisfaction,
        sum(case when is_low_satisfaction then 1 else 0 end) as low_satisfaction_tickets,
        sum(case when is_in_window and is_low_satisfaction then 1 else 0 end)
            as low_satisfaction_last_90d,
        avg(first_response_hours) as avg_first_response_hours,
        avg(resolution_hours) as avg_resolution_hours,
        max(opened_at) as last_ticket_at
    from windowed
    group by customer_id, as_of_date
)

select * from final
