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
        next_period_start,
        as_of_date,
        next_period_start > as_of_date as is_partial_period
    from bounded
),

-- The active base on a day is the spells covering it (a customer's spells never overlap,
-- tested): those started by then less those ended before. Counted from the days spells start
-- and end, not per spell and period (at SF 10, 9 M spells × the periods each overlaps).
spell_starts as (
    select
        spell_start,
        count(*) as spells,
        sum(case when is_acquisition then 1 else 0 end) as acquisitions,
        sum(case when is_reactivation then 1 else 0 end) as reactivations
    from spells
    group by spell_start
),

base_changes as (
    -- A spell joins the base on its start day (+) and leaves it the day after its end (−).
    select
        spell_start as changed_on,
        spells as spells_joining
    from spell_starts
    union all
    select
        cast({{ dbt.dateadd("day", 1, "spell_end") }} as date) as changed_on,
        -count(*) as spells_joining
    from spells
    group by spell_end
),

churns as (
    select
        churn_date,
        count(*) as churned_customers,
        -- Average monthly revenue of the churned customer over their active life.
        sum(
            cumulative_net_revenue / greatest(
                1, {{ dbt.datediff("first_purchase_on", "churn_date", "month") }}
            )
        ) as revenue_lost_to_churn
    from spells
    where churn_date is not null
    group by churn_date
),

base_days as (
    -- Start: the end of the day before the period; end: its last day, or the as-of date.
    select
        period_grain,
        period_start,
        'start' as boundary,
        cast({{ dbt.dateadd("day", -1, "period_start") }} as date) as base_day
    from windows
    union all
    select
        period_grain,
        period_start,
        'end' as boundary,
        least(period_end, as_of_date) as base_day
    from windows
),

base as (
    -- The base at each boundary: every change on or before its day.
    select
        base_days.period_grain,
        base_days.period_start,
        coalesce(
            sum(case when base_days.boundary = 'start' then base_changes.spells_joining end), 0
        ) as customers_at_start,
        coalesce(
            sum(case when base_days.boundary = 'end' then base_changes.spells_joining end), 0
        ) as customers_at_end
    from base_days
    left join base_changes on base_days.base_day >= base_changes.changed_on
    group by base_days.period_grain, base_days.period_start
),

entered as (
    select
        windows.period_grain,
        windows.period_start,
        sum(spell_starts.acquisitions) as new_customers,
        sum(spell_starts.reactivations) as reactivated_customers
    from windows
    inner join spell_starts
        on spell_starts.spell_start between windows.period_start and windows.period_end
    group by windows.period_grain, windows.period_start
),

churned as (
    select
        windows.period_grain,
        windows.period_start,
        sum(churns.churned_customers) as churned_customers,
        sum(churns.revenue_lost_to_churn) as revenue_lost_to_churn
    from windows
    inner join churns
        on churns.churn_date between windows.period_start and windows.period_end
    group by windows.period_grain, windows.period_start
),

customer_periods as (
    -- Each customer's net revenue per month and per quarter, from which each period pairs
    -- with the one before it (not every order with both periods it falls in).
    {% for grain in ['month', 'quarter'] -%}
        select
            '{{ grain }}' as period_grain,
            cast({{ dbt.date_trunc(grain, 'ordered_on') }} as date) as period_start,
            customer_id,
            sum(net_revenue) as revenue
        from orders
        group by cast({{ dbt.date_trunc(grain, 'ordered_on') }} as date), customer_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

paired as (
    -- Each customer's revenue in a period beside theirs in the period before, when they bought
    -- in that one too: the previous of their periods, kept when the period after it is this one.
    select
        customer_periods.period_grain,
        customer_periods.period_start,
        windows.next_period_start,
        customer_periods.customer_id,
        customer_periods.revenue,
        case
            when
                lag(windows.next_period_start) over customer_periods_in_order
                = customer_periods.period_start
                then lag(customer_periods.revenue) over customer_periods_in_order
        end as previous_revenue
    from customer_periods
    inner join windows
        on
            customer_periods.period_grain = windows.period_grain
            and customer_periods.period_start = windows.period_start
    window customer_periods_in_order as (
        partition by customer_periods.period_grain, customer_periods.customer_id
        order by customer_periods.period_start
    )
),

returning_base as (
    -- The previous period's revenue of its buyers, whether they bought again or not: credited
    -- to the period after it.
    select
        period_grain,
        next_period_start as period_start,
        sum(case when revenue > 0 then revenue else 0 end)
            as previous_period_revenue_of_returning_base
    from paired
    group by period_grain, next_period_start
),

revenue as (
    -- Revenue retention over the customers who bought in the previous period: gross caps
    -- each customer at what they spent before, net lets expansion count.
    select
        period_grain,
        period_start,
        sum(revenue) as net_revenue,
        sum(case when previous_revenue > 0 then revenue else 0 end)
            as current_revenue_of_returning_base,
        sum(
            case
                when previous_revenue > 0
                    then least(revenue, previous_revenue)
                else 0
            end
        ) as retained_revenue_capped
    from paired
    group by period_grain, period_start
),

final as (
    select
        windows.period_grain,
        windows.period_start,
        windows.period_end,
        windows.is_partial_period,
        coalesce(base.customers_at_start, 0) as customers_at_start,
        coalesce(entered.new_customers, 0) as new_customers,
        coalesce(entered.reactivated_customers, 0) as reactivated_customers,
        coalesce(churned.churned_customers, 0) as churned_customers,
        coalesce(base.customers_at_end, 0) as customers_at_end,
        {{ retention_rate(
            "coalesce(base.customers_at_end, 0)",
            "coalesce(entered.new_customers, 0)
                + coalesce(entered.reactivated_customers, 0)",
            "base.customers_at_start"
        ) }} as retention_rate_pct,
        {{ churn_rate(
            "coalesce(churned.churned_customers, 0)", "base.customers_at_start"
        ) }} as churn_rate,
        coalesce(churned.revenue_lost_to_churn, 0) as revenue_lost_to_churn,
        coalesce(revenue.net_revenue, 0) as net_revenue,
        revenue.retained_revenue_capped
        / nullif(returning_base.previous_period_revenue_of_returning_base, 0)
            as gross_revenue_retention,
        revenue.current_revenue_of_returning_base
        / nullif(returning_base.previous_period_revenue_of_returning_base, 0)
            as net_revenue_retention
    from windows
    left join base
        on
            windows.period_grain = base.period_grain
            and windows.period_start = base.period_start
    left join entered
        on
            windows.period_grain = entered.period_grain
            and windows.period_start = entered.period_start
    left join churned
        on
            windows.period_grain = churned.period_grain
            and windows.period_start = churned.period_start
    left join revenue
        on
            windows.period_grain = revenue.period_grain
            and windows.period_start = revenue.period_start
    left join returning_base
        on
            windows.period_grain = returning_base.period_grain
            and windows.period_start = returning_base.period_start
)

select * from final
