{#- Helpers shared by the audience models (models/audiences). -#}

{#- `<audience_name>:<as_of_date>`, e.g. `at_risk:2026-06-30`: one id per audience and run. -#}
{% macro audience_run_id(audience_name, as_of_date) -%}
    {{ dbt.concat([
        "'" ~ audience_name ~ "'",
        "':'",
        "cast(" ~ as_of_date ~ " as " ~ dbt.type_string() ~ ")"
    ]) }}
{%- endmacro %}

{#- The first `digits` hex characters of the md5 of `expression`, as a number in [0, 1).
    md5 is uniform, so the fraction is too; 8 digits give steps of 1 / 16^8. -#}
{% macro hash_fraction(expression, digits=8) -%}
    (
        {{ hex_to_int("substr(" ~ dbt.hash(expression) ~ ", 1, " ~ digits ~ ")", digits) }}
        / {{ 16 ** digits }}.0
    )
{%- endmacro %}

{#- Holdout: true when the customer falls into the control group of the audience. The hash of
    customer id, audience name and campaign key is fixed, so a customer stays in (or out of) the
    control group run after run; a new `audience_campaign_key` draws a new group. -#}
{% macro audience_is_control(customer_id, audience_name) -%}
    {%- set campaign_key = dbt.escape_single_quotes(var("audience_campaign_key")) -%}
    (
        {{ hash_fraction(dbt.concat([
            customer_id, "'|" ~ audience_name ~ "|" ~ campaign_key ~ "'"
        ])) }}
        < {{ var("audience_control_share") }}
    )
{%- endmacro %}

{#- Standard error of the difference of two proportions (normal approximation, unpooled):
    sqrt(p1 (1 − p1) / n1 + p0 (1 − p0) / n0); null when either group is empty. -#}
{% macro proportion_difference_std_error(p_treated, n_treated, p_control, n_control) -%}
    sqrt(
        ({{ p_treated }}) * (1 - ({{ p_treated }})) / nullif({{ n_treated }}, 0)
        + ({{ p_control }}) * (1 - ({{ p_control }})) / nullif({{ n_control }}, 0)
    )
{%- endmacro %}

{#- round(x, places) for any numeric expression: PostgreSQL rounds only numerics to places. -#}
{% macro round_to(expression, places) -%}
    round(cast({{ expression }} as {{ dbt.type_numeric() }}), {{ places }})
{%- endmacro %}

{#- The columns `audience_membership_history` keeps of every audience row. -#}
{% macro audience_history_columns() -%}
    {{ return([
        "audience_name", "audience_run_id", "as_of_date", "customer_id", "manager_id",
        "customer_category", "recommended_channel", "recommended_action", "priority_score",
        "reason_codes", "is_control", "marketing_allowed", "contact_allowed"
    ]) }}
{%- endmacro %}
