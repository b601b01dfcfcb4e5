{{ incremental_staging_config('order_id') }}

with

source as (
    {{ latest_per_key(
        versions_to_rebuild(source('orders', 'orders'), 'order_id'),
        ['order_id'], ['updated_at'], 'updated_at'
    ) }}
),

renamed as (
    select
        -- ids
        order_id,
        customer_id,

        -- strings
        status as order_status,
        upper(currency) as currency_code,
        sales_channel,

        -- numerics
        total_amount,
        coalesce(discount_amount, 0) as discount_amount,

        -- booleans
        status = 'completed' as is_completed,

        -- timestamps
        ordered_at,
        cast(ordered_at as date) as ordered_on,
        updated_at,

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at,
        {{ built_at() }} as built_at

    from source
)

select * from renamed
