-- One row per customer with a purchase: ABC class and VIP flag, RFM scores and the named
-- segment they map to (seed rfm_segments), lifecycle stage and loyalty profile, as of the date.
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

abc as (
    select * from {{ ref('int_customer_abc') }}
),

churn as (
    select * from {{ ref('customer_churn') }}
),

spells as (
    select * from {{ ref('int_customer_active_spells') }}
),

rfm_segments as (
    select * from {{ ref('rfm_segments') }}
),

latest_spells as (
    select
        customer_id,
        spell_start as latest_spell_start,
        is_reactivation as latest_spell_is_reactivation
    from (
        select
            spells.*,
            row_number() over (partition by spells.customer_id order by spells.spell_start desc)
                as recency_rank
        from spells
    ) as ranked_spells
    where recency_rank = 1
),

scored as (
    -- Quintile scores from percent ranks, so tied customers share a score (every one-time
    -- buyer gets the same frequency score). 5 is best.
    select
        stats.customer_id,
        least(5, 1 + cast(floor(5 * percent_rank() over (
            order by stats.days_since_last_purchase desc
        )) as {{ dbt.type_int() }})) as recency_score,
        least(5, 1 + cast(floor(5 * percent_rank() over (
            order by stats.purchase_count
        )) as {{ dbt.type_int() }})) as frequency_score,
        least(5, 1 + cast(floor(5 * percent_rank() over (
            order by stats.net_revenue
        )) as {{ dbt.type_int() }})) as monetary_score
    from stats
),

final as (
    select
        stats.customer_id,
        stats.as_of_date,
        abc.abc_class,
        abc.is_vip,
        case when abc.is_vip then 'VIP' else abc.abc_class end as customer_category,
        abc.net_revenue_trailing_window,
        scored.recency_score,
        scored.frequency_score,
        scored.monetary_score,
        cast(
            floor((scored.frequency_score + scored.monetary_score) / 2.0 + 0.5)
            as {{ dbt.type_int() }}
        ) as frequency_monetary_score,
        {{ dbt.concat([
            "cast(scored.recency_score as " ~ dbt.type_string() ~ ")",
            "cast(scored.frequency_score as " ~ dbt.type_string() ~ ")",
            "cast(scored.monetary_score as " ~ dbt.type_string() ~ ")"
        ]) }} as rfm_code,
        rfm_segments.rfm_segment,
        case
            when churn.is_churned then 'churned'
            when stats.tenure_days < {{ var('onboarding_days') }} then 'new'
            when
                latest_spells.latest_spell_is_reactivation
                and {{ dbt.datediff(
                    "latest_spells.latest_spell_start", "stats.as_of_date", "day"
                ) }} < {{ var('reactivation_days') }}
                then 'reactivated'
            when churn.overdue_ratio > 1 or churn.broken_pattern then 'at_risk'
            else 'active'
        end as lifecycle_stage,
        case
            when
                churn.overdue_ratio > 1
                or churn.broken_pattern
                or churn.is_churned
                then 'vulnerable'
            when
                stats.purchase_count >= {{ var('regular_min_orders') }}
                and stats.gap_coefficient_of_variation <= {{ var('regular_max_gap_cv') }}
                then 'loyal'
            else 'neutral'
        end as loyalty_profile
    from stats
    inner join abc on stats.customer_id = abc.customer_id
    inner join churn on stats.customer_id = churn.customer_id
    inner join scored on stats.customer_id = scored.customer_id
    left join latest_spells on stats.customer_id = latest_spells.customer_id
    left join rfm_segments
        on
            scored.recency_score = rfm_segments.recency_score
            and cast(
                floor((scored.frequency_score + scored.monetary_score) / 2.0 + 0.5)
                as {{ dbt.type_int() }}
            ) = rfm_segments.frequency_monetary_score
)

select * from final
