-- One row per support ticket opened by the end of the as-of day: response and resolution
-- times, reopenings, satisfaction and whether it was still open then. A response or closing
-- after the as-of day is not yet known: the ticket counts as unanswered or open.
with

tickets as (
    select
        ticket_id,
        customer_id,
        ticket_category,
        ticket_topic,
        priority,
        satisfaction_score,
        reopen_count,
        is_open,
        is_complaint,
        opened_at,
        first_response_at,
        closed_at,
        first_response_minutes
    from {{ ref('stg_support__tickets') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

tickets_as_of as (
    select
        tickets.*,
        as_of.as_of_date,
        {{ dbt.dateadd("day", 1, "as_of.as_of_date") }} as as_of_cutoff
    from tickets
    cross join as_of
    where tickets.opened_at < {{ dbt.dateadd("day", 1, "as_of.as_of_date") }}
),

known_as_of as (
    -- Keep only what had happened by the cut-off. A ticket closed after it was open then;
    -- otherwise its status decides (a reopened ticket is open whatever its old closing time).
    select
        ticket_id,
        customer_id,
        as_of_date,
        ticket_category,
        ticket_topic,
        priority,
        reopen_count,
        is_complaint,
        opened_at,
        case
            when first_response_at < as_of_cutoff then first_response_at
        end as first_response_at,
        case
            when first_response_at < as_of_cutoff then first_response_minutes
        end as first_response_minutes,
        coalesce(closed_at >= as_of_cutoff, false) or is_open as is_open,
        satisfaction_score,
        -- The rendered datediff is long on DuckDB; the source line is not.
        {{ dbt.datediff("opened_at", "closed_at", "minute") }} as closing_minutes,  -- noqa: LT05
        closed_at
    from tickets_as_of
),

final as (
    select
        ticket_id,
        customer_id,
        as_of_date,
        ticket_category,
        ticket_topic,
        priority,
        opened_at,
        first_response_at,
        case when not is_open then closed_at end as closed_at,
        first_response_minutes / 60.0 as first_response_hours,
        case when not is_open then closing_minutes / 60.0 end as resolution_hours,
        reopen_count,
        -- Rated after closing: a ticket still open as of the date has no rating yet.
        case when not is_open then satisfaction_score end as satisfaction_score,
        is_open,
        is_complaint
    from known_as_of
)

select * from final
