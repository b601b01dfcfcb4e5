-- One row: the date every "current" figure is computed as of — the var as_of_date when set,
-- else the latest order date.
{% if var('as_of_date', none) -%}

select cast('{{ var("as_of_date") }}' as date) as as_of_date

{%- else -%}

    with

    orders as (
        select ordered_on from {{ ref('stg_orders__orders') }}
    ),

    final as (
        select max(ordered_on) as as_of_date
        from orders
    )

    select * from final

{%- endif %}
