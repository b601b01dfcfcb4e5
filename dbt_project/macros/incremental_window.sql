{#- Daily increments of the large staging tables (orders, order lines, activities, tickets).

    Raw tables are append-only: every delivery of a record is a row, stamped with the day its
    file belongs to (`_delivered_on`). An incremental run recomputes only the keys that got a
    version in the window, from all their versions, and replaces them (delete+insert on the
    key): the result is the same whatever order the days are built in, and equal to a full
    rebuild once every day is built.

    The window: the vars `min_date` and `max_date` (both included), else the environment's
    RETENTION_DBT_MIN_DATE and RETENTION_DBT_MAX_DATE (Dagster passes a partition range so: a
    changed var makes dbt re-parse the whole project, an env var read only here does not), else
    every row loaded since the model was last built. -#}

{% macro incremental_staging_config(unique_key) -%}
    {#- An as_of rebuild is a view: an incremental table cut at a past date would keep
        serving that date to later increments. -#}
    {{ config(
        materialized='view' if var('as_of_date', none) else 'incremental',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='sync_all_columns',
    ) }}
{%- endmacro %}

{% macro versions_to_rebuild(relation, key_column) -%}
    {%- if is_incremental() -%}
        (
            select * from {{ relation }}
            where {{ key_column }} in (
                select {{ key_column }} from {{ relation }}
                where {{ delivery_window() }}
            )
        )
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro delivery_window() -%}
    {%- set first = var('min_date', none) or env_var('RETENTION_DBT_MIN_DATE', '') -%}
    {%- set last = var('max_date', none) or env_var('RETENTION_DBT_MAX_DATE', '') -%}
    {%- if first and last -%}
        coalesce(_delivered_on, cast(_loaded_at as date))
        between cast('{{ first }}' as date) and cast('{{ last }}' as date)
    {%- else -%}
        {#- A load (one `_loaded_at` per entity and run) always ends before dbt starts, so
            the next load is stamped later than anything this model has seen. -#}
        _loaded_at > (
            select coalesce(max(loaded_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
            from {{ this }}
        )
    {%- endif -%}
{%- endmacro %}

{#- Order-grain models downstream of staging (int_orders_enriched, fct_orders) are incremental
    per customer: an order's place in its customer's history depends on the customer's other
    orders, so a run recomputes every order of each customer with a restaged order and
    replaces them (delete+insert on order_id, which also drops an order's row under a customer
    it has since moved away from). As of a past date they are views, like staging. -#}

{% macro incremental_by_customer_config() -%}
    {{ config(
        materialized='view' if var('as_of_date', none) else 'incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='sync_all_columns',
    ) }}
{%- endmacro %}

{% macro built_at() -%}
    {#- When dbt (re)built the row: the start of the dbt invocation. Invocations never overlap
        (one DuckDB writer), so a row rebuilt later always carries a later stamp. -#}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro built_since_last_run() -%}
    {#- Upstream rows rebuilt after this model's last build; all of them when this model was
        built before it had `built_at` (a warehouse from an older version). -#}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if 'built_at' in columns -%}
        built_at > (
            select coalesce(max(built_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
            from {{ this }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
