{#- `(expression in ('a', 'b'))` for a list var of strings, parenthesised so `not` and `and`
    around it bind as read. An empty list renders as a false condition (`in ()` is not valid
    SQL), so "no types configured" means "none match". -#}
{% macro value_in(expression, values) -%}
    {%- if values | length == 0 -%}
        (1 = 0)
    {%- else -%}
        ({{ expression }} in (
            {%- for value in values -%}
                '{{ value }}'{{ ", " if not loop.last }}
            {%- endfor -%}
        ))
    {%- endif -%}
{%- endmacro %}
