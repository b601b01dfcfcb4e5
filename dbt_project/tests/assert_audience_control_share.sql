-- The holdout draws about audience_control_share of customers into each audience's control
-- group: over every customer of the base, the share lies within
-- audience_control_share_tolerance of the target (with 3 000 customers one standard error is
-- about 0.005).
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
    > {{ var('audience_control_share_tolerance') }}
