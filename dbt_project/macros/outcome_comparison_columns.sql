{#- Treated vs control outcome columns shared by audience_outcomes and
    audience_outcomes_by_manager: conversion rates, uplift with its normal-approximation
    confidence interval (z = audience_outcome_z), whether it is significant (both groups at least
    audience_outcome_min_group_size), and revenue per customer. Expects the columns
    treated_/control_customers, _converted, _rate, _revenue, _revenue_per_customer_raw,
    uplift_raw and uplift_std_error_raw. -#}
{% macro outcome_comparison_columns() -%}
treated_customers,
control_customers,
treated_converted,
control_converted,
{{ round_to("treated_rate", 4) }} as treated_conversion_rate,
{{ round_to("control_rate", 4) }} as control_conversion_rate,
{{ round_to("uplift_raw", 4) }} as uplift,
{{ round_to("uplift_std_error_raw", 4) }} as uplift_std_error,
{{ round_to("uplift_raw - " ~ var('audience_outcome_z') ~ " * uplift_std_error_raw", 4) }}
    as uplift_ci_lower,
{{ round_to("uplift_raw + " ~ var('audience_outcome_z') ~ " * uplift_std_error_raw", 4) }}
    as uplift_ci_upper,
-- The normal approximation needs groups of a fair size: smaller ones are never called.
coalesce(
    treated_customers >= {{ var('audience_outcome_min_group_size') }}
    and control_customers >= {{ var('audience_outcome_min_group_size') }}
    and (
        uplift_raw - {{ var('audience_outcome_z') }} * uplift_std_error_raw > 0
        or uplift_raw + {{ var('audience_outcome_z') }} * uplift_std_error_raw < 0
    ),
    false
) as is_uplift_significant,
{{ round_to("treated_revenue", 2) }} as treated_revenue,
{{ round_to("control_revenue", 2) }} as control_revenue,
{{ round_to("treated_revenue_per_customer_raw", 2) }} as treated_revenue_per_customer,
{{ round_to("control_revenue_per_customer_raw", 2) }} as control_revenue_per_customer,
{{ round_to(
    "treated_revenue_per_customer_raw - control_revenue_per_customer_raw", 2
) }} as revenue_uplift_per_customer,
{{ round_to(
    "(treated_revenue_per_customer_raw - control_revenue_per_customer_raw)"
    ~ " * treated_customers",
    2
) }} as incremental_revenue
{%- endmacro %}

{#- The group counts both outcome models aggregate from int_audience_outcome_members, per
    group of their own grain: members that could not be delivered, then customers, conversions
    and window revenue of the treated and the control group. -#}
{% macro outcome_group_counts() -%}
count(case when not is_deliverable then 1 end) as undeliverable_members,
count(case when is_deliverable and not is_control then 1 end) as treated_customers,
count(case when is_deliverable and is_control then 1 end) as control_customers,
count(case when is_deliverable and not is_control and is_converted then 1 end)
    as treated_converted,
count(case when is_deliverable and is_control and is_converted then 1 end)
    as control_converted,
sum(case when is_deliverable and not is_control then window_revenue else 0 end)
    as treated_revenue,
sum(case when is_deliverable and is_control then window_revenue else 0 end)
    as control_revenue
{%- endmacro %}
