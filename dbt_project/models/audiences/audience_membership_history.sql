{{ config(
    materialized='incremental',
    unique_key=['audience_name', 'customer_id', 'as_of_date'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook=[
        "{% if is_incremental() %}"
        ~ "delete from {{ this }}"
        ~ " where as_of_date = (select as_of_date from {{ ref('int_as_of') }})"
        ~ "{% endif %}"
    ]
) }}
-- Audience membership snapshotted per run (grain: audience_name, customer_id, as_of_date): every
-- member of the current run, and a row for every member of the audience's previous snapshot who
-- is no longer in it. Each run appends its own as-of date (a rerun of the same date replaces
-- it); --full-refresh starts the history over from the current run.
{%- set history_columns = audience_history_columns() %}

with

audience_rows as (
    {% for audience in ['at_risk', 'win_back', 'contact_overdue', 'big_lapsed'] -%}
        select {{ history_columns | join(", ") }}
        from {{ ref('audience_' ~ audience) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

current_members as (
    select
        audience_rows.*,
        '{{ dbt.escape_single_quotes(var("audience_campaign_key")) }}' as campaign_key
    from audience_rows
),

{% if is_incremental() -%}

    history as (
        select * from {{ this }}
    ),

    previous_runs as (
        -- The latest earlier snapshot of each audience.
        select
            history.audience_name,
            max(history.as_of_date) as previous_as_of_date
        from history
        cross join as_of
        where history.as_of_date < as_of.as_of_date
        group by history.audience_name
    ),

    previous_members as (
        select
            {% for column in history_columns -%}
                history.{{ column }},
            {% endfor -%}
            history.campaign_key
        from history
        inner join previous_runs
            on
                history.audience_name = previous_runs.audience_name
                and history.as_of_date = previous_runs.previous_as_of_date
        where history.is_member
    ),

{%- else -%}

    previous_runs as (
        -- A first build has no earlier snapshot.
        select
            audience_name,
            as_of_date as previous_as_of_date
        from current_members
        where 1 = 0
    ),

    previous_members as (
        select * from current_members
        where 1 = 0
    ),

{%- endif %}

entered_or_stayed as (
    select
        current_members.audience_name,
        current_members.audience_run_id,
        current_members.as_of_date,
        current_members.customer_id,
        true as is_member,
        previous_members.customer_id is null as has_entered,
        false as has_left,
        previous_runs.previous_as_of_date,
        current_members.is_control,
        current_members.campaign_key,
        current_members.marketing_allowed,
        current_members.contact_allowed,
        current_members.manager_id,
        current_members.customer_category,
        current_members.recommended_channel,
        current_members.recommended_action,
        current_members.priority_score,
        current_members.reason_codes
    from current_members
    left join previous_runs on current_members.audience_name = previous_runs.audience_name
    left join previous_members
        on
            current_members.audience_name = previous_members.audience_name
            and current_members.customer_id = previous_members.customer_id
),

left_audience as (
    -- Members of the previous snapshot missing from this run, described as they were then.
    select
        previous_members.audience_name,
        {{ dbt.concat([
            "previous_members.audience_name",
            "':'",
            "cast(as_of.as_of_date as " ~ dbt.type_string() ~ ")"
        ]) }} as audience_run_id,
        as_of.as_of_date,
        previous_members.customer_id,
        false as is_member,
        false as has_entered,
        true as has_left,
        previous_members.as_of_date as previous_as_of_date,
        previous_members.is_control,
        previous_members.campaign_key,
        previous_members.marketing_allowed,
        previous_members.contact_allowed,
        previous_members.manager_id,
        previous_members.customer_category,
        previous_members.recommended_channel,
        previous_members.recommended_action,
        previous_members.priority_score,
        previous_members.reason_codes
    from previous_members
    cross join as_of
    left join current_members
        on
            previous_members.audience_name = current_members.audience_name
            and previous_members.customer_id = current_members.customer_id
    where current_members.customer_id is null
),

final as (
    select
        unioned.*,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
            as snapshotted_at
    from (
        select * from entered_or_stayed
        union all
        select * from left_audience
    ) as unioned
)

select * from final
