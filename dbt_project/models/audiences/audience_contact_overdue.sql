-- The managers' call list: one row per customer with a contact the regulation requires overdue
-- as of the date (contact_compliance violations of the types a manager makes, var
-- audience_contact_overdue_types). The most overdue contact is the one due; all overdue types
-- are listed in the reasons.
with

customers as (
    select * from {{ ref('int_audience_customers') }}
),

violations as (
    select
        customer_id,
        contact_type,
        required_every_days,
        last_contact_at,
        next_due_date,
        days_overdue
    from {{ ref('contact_compliance') }}
    where
        is_violation
        and {{ value_in("contact_type", var("audience_contact_overdue_types")) }}
),

activity_channels as (
    select
        activity_type,
        channel
    from {{ ref('activity_channels') }}
),

actions as (
    select
        reason_code,
        recommended_action,
        action_text
    from {{ ref('audience_actions') }}
    where audience_name = 'contact_overdue'
),

ranked_violations as (
    select
        violations.*,
        row_number() over (
            partition by violations.customer_id
            order by violations.days_overdue desc, violations.contact_type asc
        ) as overdue_rank
    from violations
),

violation_lists as (
    select
        customer_id,
        count(*) as overdue_contacts,
        {{ dbt.listagg("contact_type", "','", "order by overdue_rank") }} as reason_codes,
        {{ dbt.listagg(
            dbt.concat([
                "contact_type",
                "' overdue by '",
                "cast(days_overdue as " ~ dbt.type_string() ~ ")",
                "' days'"
            ]),
            "'; '",
            "order by overdue_rank"
        ) }} as reason_text
    from ranked_violations
    group by customer_id
),

most_overdue as (
    select * from ranked_violations
    where overdue_rank = 1
),

final as (
    select
        -- The channel is the contact's due (a call is made by phone, a meeting in person).
        {{ audience_identity_columns(
            'contact_overdue', 'customers', recommended_channel='activity_channels.channel'
        ) }},
        actions.recommended_action,
        -- Days overdue as a share of the allowed interval, capped at 100.
        {{ round_to(
            "100 * least(1.0 * most_overdue.days_overdue"
            ~ " / most_overdue.required_every_days, 1)",
            2
        ) }} as priority_score,
        violation_lists.reason_codes,
        violation_lists.reason_text,
        {{ audience_permission_columns('contact_overdue', 'customers') }},

        -- contact_overdue specifics
        actions.action_text,
        most_overdue.contact_type,
        most_overdue.days_overdue,
        most_overdue.required_every_days,
        most_overdue.next_due_date,
        most_overdue.last_contact_at,
        violation_lists.overdue_contacts
    from most_overdue
    inner join customers on most_overdue.customer_id = customers.customer_id
    inner join violation_lists on most_overdue.customer_id = violation_lists.customer_id
    left join activity_channels on most_overdue.contact_type = activity_channels.activity_type
    left join actions on most_overdue.contact_type = actions.reason_code
)

select * from final
