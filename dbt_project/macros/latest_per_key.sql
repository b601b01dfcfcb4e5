{#- Keep the newest version of each key from an append-only raw table.

    A key arrives in several daily files as the record changes; the version with the highest
    `order_by` wins, then the later batch and row (so a re-delivered file beats an earlier one).
    Plain window SQL so it runs unchanged on DuckDB, PostgreSQL and Spark. -#}
{% macro latest_per_key(relation, key_columns, order_by=[]) -%}
    {%- set ordering = [] -%}
    {%- for column in order_by -%}
        {%- do ordering.append(column ~ " desc nulls last") -%}
    {%- endfor -%}
    {%- for column in var("dedup_tiebreakers") -%}
        {%- do ordering.append(column ~ " desc") -%}
    {%- endfor -%}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ key_columns | join(", ") }}
                order by {{ ordering | join(", ") }}
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where version_rank = 1
{%- endmacro %}
