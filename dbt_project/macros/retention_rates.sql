{#- The retention literature's period formulas, in one place for every model and test.

    retention rate % = (customers at end − customers who entered in the period) / at start × 100
    churn rate        = customers churned in the period / customers at start
    Both are null when nobody was in the base at the start. -#}
{% macro retention_rate(customers_at_end, customers_entered, customers_at_start) -%}
    round(
        100.0 * (({{ customers_at_end }}) - ({{ customers_entered }}))
        / nullif({{ customers_at_start }}, 0),
        2
    )
{%- endmacro %}

{% macro churn_rate(customers_churned, customers_at_start) -%}
    1.0 * ({{ customers_churned }}) / nullif({{ customers_at_start }}, 0)
{%- endmacro %}
