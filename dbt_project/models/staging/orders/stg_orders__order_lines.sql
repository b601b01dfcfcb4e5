{# Lines are replaced per order: delete+insert on order_id drops a line a later export left out. #}
{{ incremental_staging_config('order_id') }}
-- Scheduled after stg_orders__orders (not a data dependency): both read every version of every
-- order, and side by side under the memory limit they spill (see dbt_project.yml).
-- depends_on: {{ ref('stg_orders__orders') }}

with

source as (
    select * from {{ versions_to_rebuild(source('orders', 'order_lines'), 'order_id') }}
),

latest_batch_per_order as (
    -- Lines are re-exported whole with each version of their order: the latest batch that
    -- carried the order holds its current lines (a line dropped later must disappear).
    select
        order_id,
        max(_batch_id) as latest_batch_id
    from source
    {%- if var('as_of_date', none) %}
    -- As of a date: only orders placed by then (lines carry no timestamp of their own).
    where order_id in (
        select order_id from {{ source('orders', 'orders') }}
        where ordered_at < {{ as_of_cutoff() }}
    )
    {%- endif %}
    group by order_id
),

current_lines as (
    -- One row per line: the loader quarantines a repeated (order_id, line_number) within a
    -- file (its suite's compound uniqueness rule), and a batch is one file. No window over
    -- every line is needed; the unique test on order_line_id guards the assumption.
    select source.*
    from source
    inner join latest_batch_per_order
        on
            source.order_id = latest_batch_per_order.order_id
            and source._batch_id = latest_batch_per_order.latest_batch_id
),

renamed as (
    select
        -- ids
        {{ dbt.concat(["order_id", "'-'", "cast(line_number as " ~ dbt.type_string() ~ ")"]) }}
            as order_line_id,
        order_id,
        line_number,
        product_id,

        -- strings
        category as product_category,

        -- numerics
        quantity,
        unit_price,
        unit_cost,
        quantity * unit_price as line_revenue,
        quantity * unit_cost as line_cost,

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at,
        {{ built_at() }} as built_at

    from current_lines
)

select * from renamed
