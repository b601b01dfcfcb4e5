"""The purchase model's holdout check as an asset: its figures show in the UI as metadata and
land in `marts.clv_holdout_validation` for BI. The maths is in `modeling/validation.py`."""

import dagster as dg

from modeling.validation import PURCHASE_DAY_SUMMARY_SQL, holdout_window, summary_report
from orchestration.resources import Warehouse

PURCHASES = "(select customer_id, ordered_on from marts.fct_orders where is_purchase) as p"


class HoldoutConfig(dg.Config):
    # Shortened to half the history when the history is shorter than twice this.
    holdout_days: int = 180


@dg.asset(
    key=["marts", "clv_holdout_validation"],
    deps=[dg.AssetKey(["marts", "fct_orders"]), dg.AssetKey(["intermediate", "int_as_of"])],
    group_name="marts",
    kinds={"duckdb", "python"},
    description="BG/NBD fitted on purchases up to as-of − holdout_days, its predicted purchases "
    "in the holdout vs what customers actually did, in total and by decile of the prediction.",
)
def clv_holdout_validation(
    context: dg.AssetExecutionContext, warehouse: Warehouse, config: HoldoutConfig
) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        as_of = con.execute("select as_of_date from intermediate.int_as_of").fetchone()[0]
        (first_purchase,) = con.execute(f"select min(ordered_on) from {PURCHASES}").fetchone()
        if first_purchase is None:
            return dg.MaterializeResult(metadata={"skipped": "no purchases yet"})
        calibration_end, holdout_end = holdout_window(first_purchase, as_of, config.holdout_days)
        # Summarised per customer in the database: ten million purchases need not reach pandas.
        summary = con.execute(
            PURCHASE_DAY_SUMMARY_SQL.format(purchases=PURCHASES), [calibration_end, holdout_end]
        ).df()
        report = summary_report(summary, calibration_end, holdout_end)
        deciles = report.deciles.assign(
            calibration_end=report.calibration_end, holdout_end=report.holdout_end
        )
        con.register("holdout_deciles", deciles)
        con.execute(
            "create or replace table marts.clv_holdout_validation as "
            "select * from holdout_deciles order by decile"
        )
    table = "| decile | customers | predicted | actual |\n|---|---|---|---|\n" + "\n".join(
        f"| {row.decile} | {row.customers} | {row.predicted:.1f} | {row.actual} |"
        for row in report.deciles.itertuples()
    )
    context.log.info(
        f"holdout {report.calibration_end} → {report.holdout_end}: predicted "
        f"{report.predicted_purchases:.0f} purchase days, actual {report.actual_purchases}"
    )
    return dg.MaterializeResult(
        metadata={
            "calibration_end": str(report.calibration_end),
            "holdout_end": str(report.holdout_end),
            "customers": report.customers,
            "predicted_purchases": round(report.predicted_purchases, 1),
            "actual_purchases": report.actual_purchases,
            "predicted_to_actual": round(report.ratio, 3),
            "by_decile": dg.MetadataValue.md(table),
            "bgnbd_parameters": dg.MetadataValue.json(report.parameters),
        }
    )
