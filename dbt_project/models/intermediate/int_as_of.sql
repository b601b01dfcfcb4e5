-- One row: the date every "current" figure is computed as of (var as_of_date, else the
-- latest order date).
with

orders as (
    select ordered_on from {{ ref('stg_orders__orders') }}
),

final as (
    select
        {% if var('as_of_date', none) -%}
            cast('{{ var("as_of_date") }}' as date)
        {%- else -%}
            max(ordered_on)
        {%- endif %} as as_of_date
    from orders
)

select * from final
