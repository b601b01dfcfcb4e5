with

source as (
    {{ latest_per_key(source('crm', 'managers'), ['manager_id'], ['updated_at'], 'updated_at') }}
),

renamed as (
    select
        -- ids
        manager_id,

        -- strings
        trim(name) as manager_name,
        {{ normalise_email('email') }} as email,

        -- booleans
        is_active,

        -- timestamps
        updated_at,

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at

    from source
)

select * from renamed
