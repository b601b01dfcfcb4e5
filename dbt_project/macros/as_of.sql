{#- The date every "current" figure is computed as of.

    `dbt build --vars '{as_of_date: 2026-03-31}'` reproduces what the marts would have said at
    the end of that day; without the var, the latest order date in the data is used
    (see the model `int_as_of`). -#}
{% macro as_of_cutoff() -%}
    {#- Exclusive upper bound for event timestamps: the start of the day after as_of_date. -#}
    {{ dbt.dateadd("day", 1, "cast('" ~ var("as_of_date") ~ "' as date)") }}
{%- endmacro %}
