{#- Keep the newest version of each key from an append-only raw table.

    A key arrives in several daily files as the record changes; the version with the highest
    `order_by` wins, then the later batch and row (so a re-delivered file beats an earlier one).

    With the var `as_of_date` set, versions stamped after that day (by `as_of_column`) are
    ignored: staging then shows what the pipeline would have seen on that day, and every model
    built on it inherits the cut. Plain window SQL, so it runs on DuckDB, PostgreSQL and Spark. -#}
{% macro latest_per_key(relation, key_columns, order_by=[], as_of_column=none) -%}
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
        {%- if as_of_column and var("as_of_date", none) %}
        -- A version without a stamp (optional column) is taken as always known.
        where coalesce({{ as_of_column }} < {{ as_of_cutoff() }}, true)
        {%- endif %}
    ) as ranked
    where version_rank = 1
{%- endmacro %}
