{#- Median as an aggregate. Ordered-set syntax on DuckDB and PostgreSQL; Spark has no
    percentile_cont aggregate, so it gets its own implementation. -#}
{% macro median(column) -%}
    {{ return(adapter.dispatch("median", "retention")(column)) }}
{%- endmacro %}

{% macro default__median(column) -%}
    percentile_cont(0.5) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__median(column) -%}
    percentile({{ column }}, 0.5)
{%- endmacro %}
