{#- The leading columns every audience shares, in the order the delivery code and the
    has_columns test expect: audience_name, audience_run_id, then the customer's identity,
    contact fields, manager, category and recommended channel from `relation`
    (int_audience_customers); `recommended_channel` replaces the customer's best channel when
    the audience prescribes its own (an SQL expression). -#}
{% macro audience_identity_columns(audience_name, relation, recommended_channel=none) -%}
    '{{ audience_name }}' as audience_name,
    {{ audience_run_id(audience_name, relation ~ '.as_of_date') }} as audience_run_id,
    {%- for column in ["as_of_date", "customer_id", "customer_name", "email", "phone",
                       "country_code", "city", "company", "manager_id", "manager_name",
                       "customer_category"] %}
    {{ relation }}.{{ column }},
    {%- endfor %}
    {{ recommended_channel or relation ~ '.recommended_channel' }} as recommended_channel
{%- endmacro %}

{#- The columns that follow reason_text in every audience: the holdout flag, the two
    permissions delivery enforces, and why a permission is false. -#}
{% macro audience_permission_columns(audience_name, relation) -%}
    {{ audience_is_control(relation ~ '.customer_id', audience_name) }} as is_control,
    {{ relation }}.marketing_allowed,
    {{ relation }}.contact_allowed,
    {{ relation }}.has_marketing_consent,
    {{ relation }}.is_do_not_contact,
    {{ relation }}.is_suppressed
{%- endmacro %}

{#- priority_score 0–100: a 0–1 urgency blended with the customer's value percentile, the value
    counting for `value_weight` (an audience var). -#}
{% macro audience_value_weighted_priority(urgency, value_weight, relation='customers') -%}
    {{ round_to(
        "100 * ((1 - " ~ value_weight ~ ") * " ~ urgency
        ~ " + " ~ value_weight ~ " * coalesce(" ~ relation ~ ".value_percentile, 0))",
        2
    ) }}
{%- endmacro %}
