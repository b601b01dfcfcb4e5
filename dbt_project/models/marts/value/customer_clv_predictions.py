"""Predictive CLV: BG/NBD for P(alive) and expected purchases, Gamma-Gamma for order value.

The recency-frequency-tenure summary is built in SQL (int_customer_purchase_stats); the
maths lives in the `modeling` package so it is tested without dbt. Fitted parameters and fit
diagnostics are repeated on every row so they travel with the table."""

import json


def model(dbt, session):
    dbt.config(materialized="table")
    from modeling.clv import score_customers

    # Fixed row order: on a flat likelihood the optimiser's path depends on it, and the same
    # data must always give the same fit. DuckDB projects, casts and sorts, so pandas receives
    # only what the fit reads (a million customers: ~10x faster than sorting in pandas).
    stats = (
        dbt.ref("int_customer_purchase_stats")
        .select(
            "customer_id, as_of_date, bgnbd_frequency, bgnbd_recency_days, tenure_days, "
            "cast(mean_repeat_order_value as double) as mean_repeat_order_value, "
            "cast(gross_margin as double) as gross_margin, "
            "cast(net_revenue as double) as net_revenue"
        )
        .order("customer_id")
        .df()
    )
    frame = stats.assign(
        frequency=stats["bgnbd_frequency"],
        recency_days=stats["bgnbd_recency_days"],
        tenure_days=stats["tenure_days"],
        monetary_value=stats["mean_repeat_order_value"],
        gross_margin_ratio=(stats["gross_margin"] / stats["net_revenue"]).where(
            stats["net_revenue"] > 0
        ),
    )[
        [
            "customer_id",
            "frequency",
            "recency_days",
            "tenure_days",
            "monetary_value",
            "gross_margin_ratio",
        ]
    ]
    scored, fit = score_customers(
        frame,
        months=int(dbt.config.get("clv_months")),
        monthly_discount_rate=float(dbt.config.get("clv_monthly_discount_rate")),
    )
    scored["as_of_date"] = stats["as_of_date"].iloc[0] if len(stats) else None
    # The fit travels on every row as one SQL constant: as a pandas column it would be copied
    # into DuckDB row by row (over a GB of text for a million customers).
    fit_text = json.dumps(fit, default=float, sort_keys=True).replace("'", "''")
    return session.from_df(scored).project(f"*, '{fit_text}' as model_fit")
