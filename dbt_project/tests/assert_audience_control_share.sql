-- The holdout draws about audience_control_share of customers into each audience's control
-- group: over every customer of the base, the share lies within
-- audience_control_share_tolerance of the target, or within four standard errors of a binomial
-- share when the base is small (250 customers: ±0.076), so a small company's sampling noise
-- does not fail the build while a broken hash still does.
with

customers as (
    select customer_id from {{ ref('int_audience_customers') }}
),

shares as (
    {% for audience in ['at_risk', 'win_back', 'contact_overdue', 'big_lapsed'] -%}
        select
            '{{ audience }}' as audience_name,
            count(*) as customers,
            1.0 * count(
                case when {{ audience_is_control('customer_id', audience) }} then 1 end
            ) / count(*) as control_share
        from customers
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select *
from shares
where
    abs(control_share - {{ var('audience_control_share') }})
    > greatest(
        {{ var('audience_control_share_tolerance') }},
        4 * sqrt(
            {{ var('audience_control_share') }} * (1 - {{ var('audience_control_share') }})
            / customers
        )
    )
