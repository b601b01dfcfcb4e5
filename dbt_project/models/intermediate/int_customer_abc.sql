-- One row per customer with a purchase: ABC class by cumulative share of trailing-window
-- revenue (bounds in the seed `abc_classes`) and the VIP flag (top share or top N by
-- trailing revenue, or the CRM's own flag).
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

customers as (
    select
        customer_id,
        is_crm_vip
    from {{ ref('stg_crm__customers') }}
),

abc_classes as (
    select * from {{ ref('abc_classes') }}
),

ranked as (
    select
        customer_id,
        net_revenue_trailing_window,
        row_number() over (
            order by net_revenue_trailing_window desc, customer_id asc
        ) as revenue_rank,
        count(*) over () as customers_ranked,
        -- Share of total revenue held by the customers ranked above this one.
        coalesce(
            sum(net_revenue_trailing_window) over (
                order by net_revenue_trailing_window desc, customer_id asc
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) / nullif(sum(net_revenue_trailing_window) over (), 0) as cumulative_share_before
    from stats
),

fitting_classes as (
    -- The customer's class is the one with the lowest upper bound above the share held by
    -- the customers ranked before them: the customer who crosses 80% is still A.
    select
        ranked.customer_id,
        abc_classes.abc_class,
        row_number() over (
            partition by ranked.customer_id
            order by abc_classes.cumulative_revenue_share_upper
        ) as fit_rank
    from ranked
    inner join abc_classes
        on ranked.cumulative_share_before < abc_classes.cumulative_revenue_share_upper
),

classified as (
    select
        ranked.*,
        fitting_classes.abc_class as abc_class_by_share
    from ranked
    left join fitting_classes
        on ranked.customer_id = fitting_classes.customer_id and fitting_classes.fit_rank = 1
),

final as (
    select
        classified.customer_id,
        classified.net_revenue_trailing_window,
        classified.revenue_rank,
        classified.cumulative_share_before,
        -- Customers with no revenue in the window are C whatever the shares say.
        case
            when classified.net_revenue_trailing_window <= 0 then 'C'
            else coalesce(classified.abc_class_by_share, 'C')
        end as abc_class,
        coalesce(customers.is_crm_vip, false)
        or (
            classified.net_revenue_trailing_window > 0
            and classified.revenue_rank <= {% if var('vip_top_n') -%}
                {{ var('vip_top_n') }}
            {%- else -%}
                greatest(1, {{ var('vip_top_share') }} * classified.customers_ranked)
            {%- endif %}
        ) as is_vip
    from classified
    left join customers on classified.customer_id = customers.customer_id
)

select * from final
