-- One row per month and per quarter up to the as-of date: the active customer base at the
-- start and end, who entered it (new or reactivated) and who churned, the rates the
-- retention literature defines, and revenue kept and lost.
with

spells as (
    select * from {{ ref('int_customer_active_spells') }}
),

orders as (
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

periods as (
    {% for grain in ['month', 'quarter'] -%}
        select distinct
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'orders.ordered_on') }} as date) as period_start
        from orders
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

bounded as (
    select
        periods.period_grain,
        periods.period_start,
        cast(
            case
                when periods.period_grain = 'month'
                    then {{ dbt.dateadd("month", 1, "periods.period_start") }}
                else {{ dbt.dateadd("month", 3, "periods.period_start") }}
            end as date
        ) as next_period_start,
        as_of.as_of_date
    from periods
    cross join as_of
),

windows as (
    select
        period_grain,
        period_start,
        cast({{ dbt.dateadd("day", -1, "next_period_start") }} as date) as period_end,
        cast(
            case
                when period_grain = 'month'
                    then {{ dbt.dateadd("month", -1, "period_start") }}
                else {{ dbt.dateadd("month", -3, "period_start") }}
            end as date
        ) as previous_period_start,
        as_of_date,
        next_period_start > as_of_date as is_partial_period
    from bounded
),

base_counts as (
    select
        windows.period_grain,
        windows.period_start,
        -- A customer's spells never overlap (tested), so the customers active on a day are
        -- the spells covering it: a count, not a distinct count (which holds every customer
        -- id of every period in memory at once).
        sum(
            case
                when
                    spells.spell_start < windows.period_start
                    and spells.spell_end >= {{ dbt.dateadd("day", -1, "windows.period_start") }}
                    then 1
                else 0
            end
        ) as customers_at_start,
        sum(
            case
                when
                    spells.spell_start <= least(windows.period_end, windows.as_of_date)
                    and spells.spell_end >= least(windows.period_end, windows.as_of_date)
                    then 1
                else 0
            end
        ) as customers_at_end,
        sum(
            case
                when
                    spells.is_acquisition
                    and spells.spell_start between windows.period_start and windows.period_end
                    then 1
                else 0
            end
        ) as new_customers,
        sum(
            case
                when
                    spells.is_reactivation
                    and spells.spell_start between windows.period_start and windows.period_end
                    then 1
                else 0
            end
        ) as reactivated_customers,
        sum(
            case
                when spells.churn_date between windows.period_start and windows.period_end
                    then 1
                else 0
            end
        ) as churned_customers,
        sum(
            case
                when spells.churn_date between windows.period_start and windows.period_end
                    -- Average monthly revenue of the churned customer over their active life.
                    then spells.cumulative_net_revenue / greatest(
                        1,
                        {{ dbt.datediff("spells.first_purchase_on", "spells.churn_date", "month") }}
                    )
                else 0
            end
        ) as revenue_lost_to_churn
    from windows
    cross join spells
    where
        spells.spell_start <= windows.period_end
        and spells.spell_end >= {{ dbt.dateadd("day", -1, "windows.period_start") }}
    group by windows.period_grain, windows.period_start
),

customer_period_revenue as (
    select
        windows.period_grain,
        windows.period_start,
        orders.customer_id,
        sum(
            case
                when orders.ordered_on >= windows.period_start then orders.net_revenue else 0
            end
        ) as current_revenue,
        sum(
            case
                when orders.ordered_on < windows.period_start then orders.net_revenue else 0
            end
        ) as previous_revenue
    from windows
    inner join orders
        on
            windows.previous_period_start <= orders.ordered_on
            and windows.period_end >= orders.ordered_on
    group by windows.period_grain, windows.period_start, orders.customer_id
),

revenue as (
    -- Revenue retention over the customers who bought in the previous period: gross caps
    -- each customer at what they spent before, net lets expansion count.
    select
        period_grain,
        period_start,
        sum(current_revenue) as net_revenue,
        sum(case when previous_revenue > 0 then previous_revenue else 0 end)
            as previous_period_revenue_of_returning_base,
        sum(case when previous_revenue > 0 then current_revenue else 0 end)
            as current_revenue_of_returning_base,
        sum(
            case
                when previous_revenue > 0
                    then least(current_revenue, previous_revenue)
                else 0
            end
        ) as retained_revenue_capped
    from customer_period_revenue
    group by period_grain, period_start
),

final as (
    select
        windows.period_grain,
        windows.period_start,
        windows.period_end,
        windows.is_partial_period,
        coalesce(base_counts.customers_at_start, 0) as customers_at_start,
        coalesce(base_counts.new_customers, 0) as new_customers,
        coalesce(base_counts.reactivated_customers, 0) as reactivated_customers,
        coalesce(base_counts.churned_customers, 0) as churned_customers,
        coalesce(base_counts.customers_at_end, 0) as customers_at_end,
        {{ retention_rate(
            "coalesce(base_counts.customers_at_end, 0)",
            "coalesce(base_counts.new_customers, 0)
                + coalesce(base_counts.reactivated_customers, 0)",
            "base_counts.customers_at_start"
        ) }} as retention_rate_pct,
        {{ churn_rate(
            "coalesce(base_counts.churned_customers, 0)", "base_counts.customers_at_start"
        ) }} as churn_rate,
        coalesce(base_counts.revenue_lost_to_churn, 0) as revenue_lost_to_churn,
        coalesce(revenue.net_revenue, 0) as net_revenue,
        revenue.retained_revenue_capped
        / nullif(revenue.previous_period_revenue_of_returning_base, 0)
            as gross_revenue_retention,
        revenue.current_revenue_of_returning_base
        / nullif(revenue.previous_period_revenue_of_returning_base, 0)
            as net_revenue_retention
    from windows
    left join base_counts
        on
            windows.period_grain = base_counts.period_grain
            and windows.period_start = base_counts.period_start
    left join revenue
        on
            windows.period_grain = revenue.period_grain
            and windows.period_start = revenue.period_start
)

select * from final
