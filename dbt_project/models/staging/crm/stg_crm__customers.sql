with

source as (
    {{ latest_per_key(source('crm', 'customers'), ['customer_id'], ['updated_at'], 'updated_at') }}
),

renamed as (
    select
        -- ids
        customer_id,
        manager_id,
        referred_by_customer_id,

        -- strings
        trim(name) as customer_name,
        {{ normalise_email('email') }} as email,
        nullif(trim(phone), '') as phone,
        nullif(trim(company), '') as company,
        acquisition_channel,
        preferred_channel,
        nullif(trim(city), '') as city,
        upper(nullif(trim(country), '')) as country_code,

        -- booleans
        marketing_consent as has_marketing_consent,
        do_not_contact as is_do_not_contact,
        coalesce(is_vip, false) as is_crm_vip,
        company is not null as is_business,

        -- timestamps
        created_at,
        updated_at,

        -- lineage
        _source_file as source_file,
        _loaded_at as loaded_at

    from source
)

select * from renamed
