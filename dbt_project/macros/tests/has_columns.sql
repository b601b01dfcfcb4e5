{#- Fails with one row per column of `columns` the built relation lacks (names compared
    case-insensitively): a contract other code relies on, checked on the table as built.

        - has_columns:
            arguments: {columns: [audience_name, customer_id]}
-#}
{% test has_columns(model, columns) %}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(model) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set missing = [] -%}
    {%- for column in columns -%}
        {%- if column | lower not in present -%}
            {%- do missing.append(column | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if missing | length == 0 %}
    select cast(null as {{ dbt.type_string() }}) as missing_column
    where 1 = 0
    {%- else -%}
        {%- for column in missing %}
    select '{{ column }}' as missing_column
            {%- if not loop.last %}
    union all
            {%- endif -%}
        {%- endfor -%}
    {%- endif %}
{% endtest %}
