{#- Conversion and revenue rates per group and the treated − control uplift with its standard
    error, from a relation of treated/control counts, conversions and revenue (the `groups` CTE
    of audience_outcomes and audience_outcomes_by_manager). -#}
{% macro outcome_uplifts(relation) -%}
    select
        rates.*,
        rates.treated_rate - rates.control_rate as uplift_raw,
        {{ proportion_difference_std_error(
            "rates.treated_rate", "rates.treated_customers",
            "rates.control_rate", "rates.control_customers"
        ) }} as uplift_std_error_raw
    from (
        select
            {{ relation }}.*,
            1.0 * {{ relation }}.treated_converted / nullif({{ relation }}.treated_customers, 0)
                as treated_rate,
            1.0 * {{ relation }}.control_converted / nullif({{ relation }}.control_customers, 0)
                as control_rate,
            1.0 * {{ relation }}.treated_revenue / nullif({{ relation }}.treated_customers, 0)
                as treated_revenue_per_customer_raw,
            1.0 * {{ relation }}.control_revenue / nullif({{ relation }}.control_customers, 0)
                as control_revenue_per_customer_raw
        from {{ relation }}
    ) as rates
{%- endmacro %}
