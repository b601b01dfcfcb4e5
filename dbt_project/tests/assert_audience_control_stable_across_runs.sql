-- A customer's holdout group never changes between runs of the same audience and campaign key:
-- every snapshot in the history agrees, and so does the current audience table.
with

history as (
    select
        audience_name,
        customer_id,
        campaign_key,
        is_control
    from {{ ref('audience_membership_history') }}
),

current_rows as (
    {% for audience in ['at_risk', 'win_back', 'contact_overdue', 'big_lapsed'] -%}
        select
            audience_name,
            customer_id,
            '{{ dbt.escape_single_quotes(var("audience_campaign_key")) }}' as campaign_key,
            is_control
        from {{ ref('audience_' ~ audience) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

combined as (
    select * from history
    union all
    select * from current_rows
)

select
    audience_name,
    customer_id,
    campaign_key,
    count(distinct is_control) as control_values
from combined
group by audience_name, customer_id, campaign_key
having count(distinct is_control) > 1
