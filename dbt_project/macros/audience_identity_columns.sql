{#- The leading columns every audience shares, in the order the delivery code and the
    has_columns test expect: audience_name, audience_run_id, then the customer's identity,
    contact fields, manager, category and recommended channel from `relation`
    (int_audience_customers). -#}
{% macro audience_identity_columns(audience_name, relation) -%}
    '{{ audience_name }}' as audience_name,
    {{ audience_run_id(audience_name, relation ~ '.as_of_date') }} as audience_run_id,
    {%- for column in ["as_of_date", "customer_id", "customer_name", "email", "phone",
                       "country_code", "city", "company", "manager_id", "manager_name",
                       "customer_category", "recommended_channel"] %}
    {{ relation }}.{{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
