{{ incremental_staging_config('activity_id') }}

with

source as (
    {{ latest_per_key(
        versions_to_rebuild(source('crm', 'activities'), 'activity_id'),
        ['activity_id'], [], 'occurred_at'
    ) }}
),

renamed as (
    select
        -- ids
        activity_id,
        customer_id,
        manager_id,

        -- strings
        activity_type,
        direction,
        outcome,

        -- booleans
        -- A contact counts as reaching the customer when they answered or replied.
        coalesce(outcome in ('completed', 'replied'), false) as is_reached,

        -- timestamps
        occurred_at,
        cast(occurred_at as date) as occurred_on,

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at,
        {{ built_at() }} as built_at

    from source
)

select * from renamed
