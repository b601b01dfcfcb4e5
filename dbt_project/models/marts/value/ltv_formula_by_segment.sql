-- LTV = AOV × T × AGM × ALT per segment, with its four components shown. One row per
-- segment type (abc_class, rfm_segment, cohort_quarter, all) and value.
--   AOV  average order value = net revenue / purchases
--   T    purchases per customer per year of active life
--   AGM  gross margin ratio = gross margin / net revenue
--   ALT  average customer lifetime in years = active customer-years / churned customers
--        (the exponential-lifetime estimate), capped at ltv_max_lifetime_years
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

churn as (
    select
        customer_id,
        is_churned,
        churn_date
    from {{ ref('customer_churn') }}
),

segments as (
    select
        customer_id,
        abc_class,
        rfm_segment
    from {{ ref('customer_segments') }}
),

customers as (
    select
        stats.customer_id,
        segments.abc_class,
        segments.rfm_segment,
        {{ dbt.concat([
            "cast(extract(year from stats.first_purchase_on) as " ~ dbt.type_string() ~ ")",
            "'-Q'",
            "cast(extract(quarter from stats.first_purchase_on) as " ~ dbt.type_string() ~ ")"
        ]) }} as cohort_quarter,
        stats.purchase_count,
        stats.net_revenue,
        stats.gross_margin,
        churn.is_churned,
        -- Active life: first purchase to churn, or to the as-of date while still active;
        -- at least a day so a first-day customer adds exposure.
        greatest(
            1,
            case
                when churn.is_churned
                    then {{ dbt.datediff("stats.first_purchase_on", "churn.churn_date", "day") }}
                else stats.tenure_days
            end
        ) / 365.25 as active_years
    from stats
    inner join churn on stats.customer_id = churn.customer_id
    inner join segments on stats.customer_id = segments.customer_id
),

by_segment as (
    {% for segment_type in ['abc_class', 'rfm_segment', 'cohort_quarter', 'all'] -%}
        select
            '{{ segment_type }}' as segment_type,
            {% if segment_type == 'all' -%}
                'all'
            {%- else -%}
                {{ segment_type }}
            {%- endif %} as segment_value,
            count(*) as customers,
            sum(purchase_count) as purchases,
            sum(net_revenue) as net_revenue,
            sum(gross_margin) as gross_margin,
            sum(case when is_churned then 1 else 0 end) as churned_customers,
            sum(active_years) as active_customer_years
        from customers
        group by 1, 2
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

components as (
    select
        by_segment.*,
        by_segment.net_revenue / nullif(by_segment.purchases, 0) as average_order_value,
        by_segment.purchases
        / nullif(by_segment.active_customer_years, 0) as orders_per_customer_year,
        by_segment.gross_margin / nullif(by_segment.net_revenue, 0) as gross_margin_ratio,
        least(
            {{ var('ltv_max_lifetime_years') }},
            by_segment.active_customer_years / nullif(by_segment.churned_customers, 0)
        ) as average_lifetime_years
    from by_segment
),

final as (
    select
        components.*,
        coalesce(
            components.average_lifetime_years,
            {{ var('ltv_max_lifetime_years') }}
        ) as lifetime_years_used,
        round(
            components.average_order_value
            * components.orders_per_customer_year
            * components.gross_margin_ratio
            * coalesce(components.average_lifetime_years, {{ var('ltv_max_lifetime_years') }}),
            2
        ) as formula_ltv
    from components
)

select * from final
