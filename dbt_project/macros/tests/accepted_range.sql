{#- Fails for every row whose `column_name` lies outside [min_value, max_value] (or the open
    interval when `inclusive` is false). Either bound may be omitted; nulls pass (pair with
    not_null when they must not occur). Narrow the rows checked with dbt's `config: {where: …}`.

        - accepted_range:
            arguments: {min_value: 0, max_value: 1}
-#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error(
            "accepted_range on " ~ column_name ~ ": give min_value, max_value or both"
        ) }}
    {%- endif -%}
    {%- set lower_operator = ">=" if inclusive else ">" -%}
    {%- set upper_operator = "<=" if inclusive else "<" -%}
    select *
    from {{ model }}
    where
        {{ column_name }} is not null
        and not (
            1 = 1
            {%- if min_value is not none %}
            and {{ column_name }} {{ lower_operator }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
            and {{ column_name }} {{ upper_operator }} {{ max_value }}
            {%- endif %}
        )
{% endtest %}
