-- One row per customer with a purchase: their expected purchase interval, how overdue they
-- are as of the date, whether they have churned and whether a regular rhythm broke.
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

abc as (
    select
        customer_id,
        abc_class
    from {{ ref('int_customer_abc') }}
),

purchases as (
    select
        customer_id,
        days_since_previous_purchase
    from {{ ref('int_orders_enriched') }}
    where days_since_previous_purchase is not null
),

segment_medians as (
    -- Pooled median gap of all repeat purchases in each ABC class.
    select
        abc.abc_class,
        {{ median('purchases.days_since_previous_purchase') }} as segment_median_gap_days
    from purchases
    inner join abc on purchases.customer_id = abc.customer_id
    group by abc.abc_class
),

global_median as (
    select {{ median('days_since_previous_purchase') }} as global_median_gap_days
    from purchases
),

expected as (
    select
        stats.customer_id,
        stats.as_of_date,
        abc.abc_class,
        stats.purchase_count,
        stats.gap_count,
        stats.median_gap_days,
        stats.gap_coefficient_of_variation,
        stats.last_purchase_on,
        stats.days_since_last_purchase,
        coalesce(segment_medians.segment_median_gap_days, global_median.global_median_gap_days)
            as prior_gap_days,
        -- Shrink the customer's own median toward the segment's: with few gaps the
        -- segment's rhythm dominates, with many the customer's own.
        -- With no repeat purchase anywhere yet, churn_min_days stands in for the rhythm.
        case
            when stats.gap_count = 0 or stats.median_gap_days is null
                then coalesce(
                    segment_medians.segment_median_gap_days,
                    global_median.global_median_gap_days,
                    {{ var('churn_min_days') }}
                )
            else (
                stats.gap_count * stats.median_gap_days
                + {{ var('churn_shrinkage_gaps') }} * coalesce(
                    segment_medians.segment_median_gap_days,
                    global_median.global_median_gap_days,
                    stats.median_gap_days
                )
            ) / (stats.gap_count + {{ var('churn_shrinkage_gaps') }})
        end as expected_interval_days
    from stats
    left join abc on stats.customer_id = abc.customer_id
    left join segment_medians on abc.abc_class = segment_medians.abc_class
    cross join global_median
),

thresholds as (
    select
        expected.*,
        greatest(
            {{ var('churn_min_days') }},
            {{ var('churn_overdue_multiple') }} * expected.expected_interval_days
        ) as churn_threshold_days
    from expected
),

final as (
    select
        customer_id,
        as_of_date,
        abc_class,
        purchase_count,
        median_gap_days,
        gap_coefficient_of_variation,
        expected_interval_days,
        churn_threshold_days,
        last_purchase_on,
        days_since_last_purchase,
        days_since_last_purchase / nullif(expected_interval_days, 0) as overdue_ratio,
        coalesce(days_since_last_purchase > churn_threshold_days, false) as is_churned,
        case
            when days_since_last_purchase > churn_threshold_days
                -- The first day on which days since the last purchase exceed the threshold.
                then {{ dbt.dateadd(
                    "day",
                    "cast(floor(churn_threshold_days) as " ~ dbt.type_int() ~ ") + 1",
                    "last_purchase_on"
                ) }}
        end as churn_date,
        -- A regular buyer (enough purchases, steady gaps) who has let at least
        -- broken_pattern_missed_cycles of their own gaps pass without buying.
        coalesce(
            purchase_count >= {{ var('regular_min_orders') }}
            and gap_coefficient_of_variation <= {{ var('regular_max_gap_cv') }}
            and days_since_last_purchase
            >= {{ var('broken_pattern_missed_cycles') }} * median_gap_days,
            false
        ) as broken_pattern,
        cast(
            floor(days_since_last_purchase / nullif(median_gap_days, 0)) as {{ dbt.type_int() }}
        ) as missed_cycles
    from thresholds
)

select * from final
