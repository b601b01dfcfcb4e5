-- retention_by_period counts the customers active on a day as the spells covering it: true
-- only while a customer's spells never overlap.
with

ordered as (
    select
        customer_id,
        spell_start,
        lag(spell_end) over (partition by customer_id order by spell_start) as previous_spell_end
    from {{ ref('int_customer_active_spells') }}
)

select * from ordered
where spell_start <= previous_spell_end
