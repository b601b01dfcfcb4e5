-- One row per customer known by the as-of date: contact details, manager and category, whether
-- they may be contacted at all and for marketing (consent, do-not-contact, the suppression
-- list), the channel they answer, referrals and value percentiles. The base of every audience.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

activities as (
    select
        customer_id,
        activity_type,
        is_reached,
        occurred_at
    from {{ ref('stg_crm__activities') }}
    where direction = 'outbound'
),

activity_channels as (
    select
        activity_type,
        channel,
        contact_field
    from {{ ref('activity_channels') }}
    where counts_for_answer_rate
),

suppression_list as (
    select * from {{ ref('suppression_list') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

channel_attempts as (
    -- Our outbound contacts up to the end of the as-of day, per customer and channel. Inbound
    -- contacts are left out: the customer chose that channel, so they reached by definition.
    select
        activities.customer_id,
        activity_channels.channel,
        activity_channels.contact_field,
        count(*) as attempts,
        count(case when activities.is_reached then 1 end) as reached
    from activities
    inner join activity_channels on activities.activity_type = activity_channels.activity_type
    cross join as_of
    where activities.occurred_at < {{ dbt.dateadd("day", 1, "as_of.as_of_date") }}
    group by activities.customer_id, activity_channels.channel, activity_channels.contact_field
),

channel_base_rates as (
    -- Everybody's answer rate per channel: few answer a newsletter, most pick up the phone.
    select
        channel,
        1.0 * sum(reached) / sum(attempts) as base_reach_share
    from channel_attempts
    group by channel
),

channel_response as (
    select
        channel_attempts.customer_id,
        channel_attempts.channel,
        channel_attempts.contact_field,
        channel_attempts.attempts,
        channel_attempts.reached,
        1.0 * channel_attempts.reached / channel_attempts.attempts as reach_share,
        1.0 * channel_attempts.reached / channel_attempts.attempts
        / nullif(channel_base_rates.base_reach_share, 0) as relative_reach
    from channel_attempts
    inner join channel_base_rates on channel_attempts.channel = channel_base_rates.channel
),

ranked_channels as (
    -- Channels tried often enough, answered at least once, and with the contact detail they
    -- need on the card; the best answer rate relative to everybody's first, then the
    -- customer's preferred channel, then the more tried one.
    select
        channel_response.*,
        row_number() over (
            partition by channel_response.customer_id
            order by
                channel_response.relative_reach desc,
                case when channel_response.channel = customers.preferred_channel then 0 else 1 end,
                channel_response.attempts desc,
                channel_response.channel asc
        ) as channel_rank
    from channel_response
    inner join customers on channel_response.customer_id = customers.customer_id
    where
        channel_response.attempts >= {{ var('audience_channel_min_attempts') }}
        and channel_response.reached > 0
        and (
            channel_response.contact_field is null
            or (channel_response.contact_field = 'email' and customers.email is not null)
            or (channel_response.contact_field = 'phone' and customers.phone is not null)
        )
),

answered_channels as (
    select
        customer_id,
        channel as answered_channel,
        attempts as answered_channel_attempts,
        reach_share as answered_channel_reach_share
    from ranked_channels
    where channel_rank = 1
),

active_suppressions as (
    -- Entries in force on the as-of date, by customer id or by e-mail address.
    select
        suppression_list.customer_id,
        {{ normalise_email('suppression_list.email') }} as email,
        suppression_list.reason
    from suppression_list
    cross join as_of
    where
        suppression_list.suppressed_on <= as_of.as_of_date
        and (
            suppression_list.expires_on is null
            or suppression_list.expires_on > as_of.as_of_date
        )
),

suppressed_customers as (
    select
        customers.customer_id,
        {{ dbt.listagg(
            "distinct active_suppressions.reason", "','", "order by active_suppressions.reason"
        ) }} as suppression_reasons
    from customers
    inner join active_suppressions
        on
            customers.customer_id = active_suppressions.customer_id
            or customers.email = active_suppressions.email
    group by customers.customer_id
),

referrals as (
    select
        referred_by_customer_id as customer_id,
        count(*) as referral_count
    from customers
    where referred_by_customer_id is not null
    group by referred_by_customer_id
),

value_ranks as (
    -- Percentiles among customers with a purchase (0 = lowest, 1 = highest; ties share one).
    select
        customer_id,
        percent_rank() over (order by net_revenue) as historical_value_percentile,
        percent_rank() over (order by coalesce(predicted_clv_12m, 0))
            as predicted_value_percentile
    from customers
    where purchase_count > 0
),

flagged as (
    -- An unknown consent is no consent and an unknown do-not-contact flag is a "do not".
    select
        customers.*,
        coalesce(customers.has_marketing_consent, false) as has_consent,
        coalesce(customers.is_do_not_contact, true) as is_blocked,
        suppressed_customers.customer_id is not null as is_suppressed,
        suppressed_customers.suppression_reasons
    from customers
    left join suppressed_customers on customers.customer_id = suppressed_customers.customer_id
),

final as (
    select
        -- ids
        flagged.customer_id,
        flagged.as_of_date,

        -- contact details and ownership
        flagged.customer_name,
        flagged.email,
        flagged.phone,
        flagged.country_code,
        flagged.city,
        flagged.company,
        flagged.manager_id,
        flagged.manager_name,
        flagged.is_manager_active,

        -- segments
        flagged.customer_category,
        flagged.is_vip,
        flagged.rfm_segment,
        flagged.lifecycle_stage,

        -- channel
        flagged.preferred_channel,
        answered_channels.answered_channel,
        answered_channels.answered_channel_attempts,
        answered_channels.answered_channel_reach_share,
        coalesce(answered_channels.answered_channel, flagged.preferred_channel)
            as recommended_channel,

        -- permissions
        flagged.has_consent as has_marketing_consent,
        flagged.is_blocked as is_do_not_contact,
        flagged.is_suppressed,
        flagged.suppression_reasons,
        flagged.has_consent and not flagged.is_blocked and not flagged.is_suppressed
            as marketing_allowed,
        not flagged.is_blocked and not flagged.is_suppressed as contact_allowed,

        -- value
        flagged.purchase_count,
        flagged.net_revenue,
        flagged.predicted_clv_12m,
        coalesce(referrals.referral_count, 0) as referral_count,
        value_ranks.historical_value_percentile,
        value_ranks.predicted_value_percentile,
        (value_ranks.historical_value_percentile + value_ranks.predicted_value_percentile) / 2
            as value_percentile

    from flagged
    left join answered_channels on flagged.customer_id = answered_channels.customer_id
    left join referrals on flagged.customer_id = referrals.customer_id
    left join value_ranks on flagged.customer_id = value_ranks.customer_id
)

select * from final
