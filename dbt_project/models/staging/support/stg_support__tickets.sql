{{ incremental_staging_config('ticket_id') }}

with

source as (
    {{ latest_per_key(
        versions_to_rebuild(source('support', 'tickets'), 'ticket_id'),
        ['ticket_id'], ['updated_at'], 'updated_at'
    ) }}
),

renamed as (
    select
        -- ids
        ticket_id,
        customer_id,

        -- strings
        status as ticket_status,
        category as ticket_category,
        topic as ticket_topic,
        priority,

        -- numerics
        satisfaction_score,
        coalesce(reopen_count, 0) as reopen_count,

        -- booleans
        status in ('open', 'pending') as is_open,
        category in ('complaint', 'cancellation') as is_complaint,

        -- timestamps
        opened_at,
        first_response_at,
        closed_at,
        updated_at,
        -- The rendered datediff is long on DuckDB; the source line is not.
        {{ dbt.datediff("opened_at", "first_response_at", "minute") }} as first_response_minutes,  -- noqa: LT05

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at,
        {{ built_at() }} as built_at

    from source
)

select * from renamed
