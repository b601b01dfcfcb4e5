-- One row per customer who churned within the last audience_win_back_max_days_since_churn days:
-- the inferred reason they left, the offer that answers it (seed win_back_offers) and a
-- priority score from value, referrals, complaints and how recently they left (weights in the
-- seed win_back_priority_weights).
with

customers as (
    select * from {{ ref('int_audience_customers') }}
),

churn as (
    select
        customer_id,
        as_of_date,
        is_churned,
        churn_date,
        last_purchase_on
    from {{ ref('customer_churn') }}
),

tickets as (
    select
        customer_id,
        ticket_topic,
        is_complaint,
        satisfaction_score,
        opened_at
    from {{ ref('support_metrics') }}
),

purchases as (
    select
        customer_id,
        discount_amount
    from {{ ref('int_orders_enriched') }}
    where is_purchase
),

activities as (
    select
        customer_id,
        activity_type,
        direction,
        is_reached,
        occurred_at
    from {{ ref('stg_crm__activities') }}
),

activity_channels as (
    select activity_type
    from {{ ref('activity_channels') }}
    where counts_for_answer_rate
),

churn_reason_topics as (
    select * from {{ ref('churn_reason_topics') }}
),

offers as (
    select * from {{ ref('win_back_offers') }}
),

priority_weights as (
    select * from {{ ref('win_back_priority_weights') }}
),

churned as (
    select
        churn.customer_id,
        churn.as_of_date,
        churn.last_purchase_on,
        cast(churn.churn_date as date) as churn_date,
        {{ dbt.datediff("cast(churn.churn_date as date)", "churn.as_of_date", "day") }}
            as days_since_churn
    from churn
    where
        churn.is_churned
        and {{ dbt.datediff("cast(churn.churn_date as date)", "churn.as_of_date", "day") }}
        <= {{ var('audience_win_back_max_days_since_churn') }}
),

complaint_history as (
    -- support_metrics holds the tickets opened by the end of the as-of day.
    select
        customer_id,
        count(case when is_complaint then 1 end) as complaint_count
    from tickets
    group by customer_id
),

reason_tickets as (
    -- Complaints and poorly rated tickets about a topic that explains leaving, opened from
    -- audience_win_back_reason_lookback_days before the last purchase on.
    select
        tickets.customer_id,
        churn_reason_topics.churn_reason,
        count(*) as reason_ticket_count,
        max(tickets.opened_at) as last_opened_at
    from tickets
    inner join churned on tickets.customer_id = churned.customer_id
    inner join churn_reason_topics on tickets.ticket_topic = churn_reason_topics.ticket_topic
    where
        (
            tickets.is_complaint
            or tickets.satisfaction_score <= {{ var('health_low_satisfaction_max') }}
        )
        and cast(tickets.opened_at as date) >= {{ dbt.dateadd(
            "day", -var('audience_win_back_reason_lookback_days'), "churned.last_purchase_on"
        ) }}
    group by tickets.customer_id, churn_reason_topics.churn_reason
),

topic_reasons as (
    -- The reason with the most such tickets; on a tie, the one raised last.
    select
        customer_id,
        churn_reason as topic_churn_reason,
        reason_ticket_count
    from (
        select
            reason_tickets.*,
            row_number() over (
                partition by reason_tickets.customer_id
                order by
                    reason_tickets.reason_ticket_count desc,
                    reason_tickets.last_opened_at desc,
                    reason_tickets.churn_reason asc
            ) as reason_rank
        from reason_tickets
    ) as ranked_reasons
    where reason_rank = 1
),

discount_usage as (
    select
        customer_id,
        count(*) as purchase_count,
        count(case when discount_amount > 0 then 1 end) as discounted_purchase_count
    from purchases
    group by customer_id
),

contacts_since_last_purchase as (
    -- The last interactions: contacts after the last purchase day up to the end of the as-of
    -- day; our attempts, and every contact that reached the customer (answered, replied, or
    -- the customer wrote or called us).
    select
        churned.customer_id,
        count(case when activities.direction = 'outbound' then 1 end) as contact_attempts,
        count(case when activities.is_reached then 1 end) as contacts_reached
    from activities
    inner join activity_channels on activities.activity_type = activity_channels.activity_type
    inner join churned on activities.customer_id = churned.customer_id
    where
        cast(activities.occurred_at as date) > churned.last_purchase_on
        and activities.occurred_at < {{ dbt.dateadd("day", 1, "churned.as_of_date") }}
    group by churned.customer_id
),

evidence as (
    select
        churned.*,
        coalesce(complaint_history.complaint_count, 0) as complaint_count,
        topic_reasons.topic_churn_reason,
        coalesce(topic_reasons.reason_ticket_count, 0) as reason_ticket_count,
        1.0 * discount_usage.discounted_purchase_count
        / nullif(discount_usage.purchase_count, 0) as discount_purchase_share,
        coalesce(contacts_since_last_purchase.contact_attempts, 0) as contact_attempts,
        coalesce(contacts_since_last_purchase.contacts_reached, 0) as contacts_reached
    from churned
    left join complaint_history on churned.customer_id = complaint_history.customer_id
    left join topic_reasons on churned.customer_id = topic_reasons.customer_id
    left join discount_usage on churned.customer_id = discount_usage.customer_id
    left join contacts_since_last_purchase
        on churned.customer_id = contacts_since_last_purchase.customer_id
),

reasons as (
    -- First rule that applies: the topic of their complaints, then buying mostly on discount,
    -- then contacts since the last purchase that all went unanswered, else they forgot us.
    select
        evidence.*,
        case
            when evidence.topic_churn_reason is not null then evidence.topic_churn_reason
            when
                evidence.discount_purchase_share >= {{ var('audience_win_back_discount_share') }}
                then 'price'
            when
                evidence.contact_attempts >= {{ var('audience_win_back_ignored_contacts') }}
                and evidence.contacts_reached = 0
                then 'no_longer_needed'
            else 'forgot'
        end as churn_reason
    from evidence
),

priority_components as (
    {% for component, expression in [
        ('historical_value', 'coalesce(customers.historical_value_percentile, 0)'),
        ('predicted_value', 'coalesce(customers.predicted_value_percentile, 0)'),
        ('referrals', 'least(1.0 * customers.referral_count / '
            ~ var('audience_win_back_referrals_cap') ~ ', 1)'),
        ('complaints', 'case when reasons.complaint_count = 0 then 1.0 when '
            ~ 'reasons.complaint_count <= ' ~ var('audience_win_back_rare_complaints')
            ~ ' then 0.5 else 0 end'),
        ('recency', '1 - 1.0 * reasons.days_since_churn / '
            ~ var('audience_win_back_max_days_since_churn')),
    ] -%}
        select
            reasons.customer_id,
            '{{ component }}' as component,
            {{ expression }} as component_value
        from reasons
        inner join customers on reasons.customer_id = customers.customer_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

priorities as (
    select
        priority_components.customer_id,
        sum(priority_weights.weight * priority_components.component_value) as priority_score
    from priority_components
    inner join priority_weights on priority_components.component = priority_weights.component
    group by priority_components.customer_id
),

final as (
    select
        {{ audience_identity_columns('win_back', 'customers') }},
        offers.recommended_action,
        {{ round_to("coalesce(priorities.priority_score, 0)", 2) }} as priority_score,
        reasons.churn_reason as reason_codes,
        offers.churn_reason_text as reason_text,
        {{ audience_permission_columns('win_back', 'customers') }},

        -- win_back specifics
        offers.action_text,
        reasons.churn_reason,
        offers.offer_code,
        offers.offer_text,
        offers.discount_pct,
        reasons.churn_date,
        reasons.days_since_churn,
        reasons.last_purchase_on,
        customers.net_revenue,
        customers.predicted_clv_12m,
        customers.referral_count,
        reasons.complaint_count,
        reasons.reason_ticket_count,
        reasons.discount_purchase_share,
        reasons.contact_attempts,
        reasons.contacts_reached
    from reasons
    inner join customers on reasons.customer_id = customers.customer_id
    left join priorities on reasons.customer_id = priorities.customer_id
    left join offers on reasons.churn_reason = offers.churn_reason
)

select * from final
