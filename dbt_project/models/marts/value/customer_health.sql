-- One row per customer with a purchase: an explainable at-risk score 0–100 — the sum of the
-- weights (seed health_signals) of the signals that are on — with every signal and the top
-- three reasons as codes and as text. Higher means more at risk.
with

stats as (
    select * from {{ ref('int_customer_purchase_stats') }}
),

churn as (
    select * from {{ ref('customer_churn') }}
),

predictions as (
    select
        customer_id,
        p_alive
    from {{ ref('customer_clv_predictions') }}
),

support as (
    select * from {{ ref('customer_support_summary') }}
),

contact_compliance as (
    select * from {{ ref('contact_compliance') }}
),

health_signals as (
    select * from {{ ref('health_signals') }}
),

contact_violations as (
    select
        customer_id,
        max(case when is_violation then 1 else 0 end) as has_contact_violation
    from contact_compliance
    group by customer_id
),

signals as (
    select
        stats.customer_id,
        stats.as_of_date,
        coalesce(churn.overdue_ratio > 1, false) as overdue_purchase,
        coalesce(churn.broken_pattern, false) as broken_pattern,
        coalesce(predictions.p_alive < {{ var('health_low_p_alive') }}, false) as low_p_alive,
        coalesce(
            stats.net_revenue_prior_90d > 0
            and stats.net_revenue_last_90d
            < (1 - {{ var('health_spend_drop_ratio') }}) * stats.net_revenue_prior_90d,
            false
        ) as spend_falling,
        coalesce(support.complaints_last_90d > 0, false) as recent_complaints,
        coalesce(support.open_tickets >= {{ var('health_open_tickets_threshold') }}, false)
            as open_tickets,
        coalesce(support.avg_satisfaction <= {{ var('health_low_satisfaction_max') }}, false)
            as low_satisfaction,
        coalesce(contact_violations.has_contact_violation = 1, false) as no_contact,
        churn.overdue_ratio,
        predictions.p_alive,
        support.open_tickets as open_ticket_count,
        support.complaints_last_90d,
        support.avg_satisfaction,
        stats.net_revenue_last_90d,
        stats.net_revenue_prior_90d
    from stats
    left join churn on stats.customer_id = churn.customer_id
    left join predictions on stats.customer_id = predictions.customer_id
    left join support on stats.customer_id = support.customer_id
    left join contact_violations on stats.customer_id = contact_violations.customer_id
),

signals_long as (
    {% for signal in ['overdue_purchase', 'broken_pattern', 'low_p_alive', 'spend_falling',
                      'recent_complaints', 'open_tickets', 'low_satisfaction', 'no_contact'] -%}
        select
            customer_id,
            '{{ signal }}' as signal_code
        from signals
        where {{ signal }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

weighted as (
    select
        signals_long.customer_id,
        signals_long.signal_code,
        health_signals.weight,
        health_signals.reason_text,
        row_number() over (
            partition by signals_long.customer_id
            order by health_signals.weight desc, signals_long.signal_code asc
        ) as reason_rank
    from signals_long
    inner join health_signals on signals_long.signal_code = health_signals.signal_code
),

scores as (
    select
        customer_id,
        sum(weight) as at_risk_score,
        {{ dbt.listagg(
            "case when reason_rank <= 3 then signal_code end", "','",
            "order by reason_rank"
        ) }} as top_reason_codes,
        {{ dbt.listagg(
            "case when reason_rank <= 3 then reason_text end", "'; '",
            "order by reason_rank"
        ) }} as top_reasons
    from weighted
    group by customer_id
),

final as (
    select
        signals.*,
        coalesce(scores.at_risk_score, 0) as at_risk_score,
        coalesce(scores.at_risk_score, 0) >= {{ var('health_at_risk_score') }} as is_at_risk,
        scores.top_reason_codes,
        scores.top_reasons
    from signals
    left join scores on signals.customer_id = scores.customer_id
)

select * from final
