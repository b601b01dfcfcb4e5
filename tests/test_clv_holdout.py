"""The holdout report counts what customers really did after the calibration date."""

from datetime import date

import numpy as np
import pandas as pd

from modeling.validation import (
    PURCHASE_DAY_SUMMARY_SQL,
    holdout_report,
    holdout_window,
    purchase_day_summary,
)


def simulated_purchases(customers: int, seed: int) -> pd.DataFrame:
    """A BG/NBD world in days: Poisson purchases, dropout after each with probability p."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for customer in range(customers):
        rate = rng.gamma(0.6, 1 / 30)  # purchases per day
        dropout = rng.beta(1.0, 4.0)
        day = int(rng.integers(0, 200))
        while day < 730:
            rows.append((f"c{customer}", (start + pd.Timedelta(days=day)).date()))
            if rng.random() < dropout:
                break
            day += max(1, int(rng.exponential(1 / rate)))
    return pd.DataFrame(rows, columns=["customer_id", "ordered_on"])


def test_holdout_counts_and_deciles_add_up_and_the_model_tracks_reality():
    purchases = simulated_purchases(3000, seed=3)
    report = holdout_report(purchases, date(2025, 6, 30), date(2025, 12, 30))
    days = purchases.drop_duplicates()
    calibration_customers = days[days["ordered_on"] <= date(2025, 6, 30)]["customer_id"].unique()
    in_holdout = days[
        (days["ordered_on"] > date(2025, 6, 30))
        & (days["ordered_on"] <= date(2025, 12, 30))
        & days["customer_id"].isin(calibration_customers)
    ]
    assert report.customers == len(calibration_customers)
    assert report.actual_purchases == len(in_holdout)
    assert report.deciles["customers"].sum() == report.customers
    assert report.deciles["actual"].sum() == report.actual_purchases
    assert abs(report.deciles["predicted"].sum() - report.predicted_purchases) < 1e-6
    # Data drawn from the model itself: the total is predicted within 15 %, and the top
    # decile really buys more than the bottom one.
    assert 0.85 < report.ratio < 1.15
    top, bottom = report.deciles.iloc[-1], report.deciles.iloc[0]
    assert top["actual"] > bottom["actual"]


def test_the_database_summarises_purchase_days_as_pandas_does():
    """Same-day repeats count once; a customer who first bought in the holdout is left out."""
    import duckdb

    purchases = simulated_purchases(300, seed=11)
    purchases = pd.concat(
        [
            purchases,
            purchases.head(40),
            pd.DataFrame({"customer_id": ["late"], "ordered_on": [date(2025, 9, 1)]}),
        ],
        ignore_index=True,
    )
    ends = [date(2025, 6, 30), date(2025, 12, 30)]
    expected = purchase_day_summary(purchases, *ends)
    with duckdb.connect() as con:
        con.register("purchases", purchases)
        got = con.execute(PURCHASE_DAY_SUMMARY_SQL.format(purchases="purchases"), ends).df()
    assert "late" not in set(got["customer_id"]) and len(got) == len(expected)
    assert list(got["customer_id"]) == list(expected["customer_id"])
    for column in ("first_day", "last_day"):
        assert (pd.to_datetime(got[column]) == pd.to_datetime(expected[column])).all()
    for column in ("calibration_days", "holdout_days"):
        assert got[column].tolist() == expected[column].tolist()
    # Counted by hand for one customer with a repeated day.
    first = purchases.iloc[0]["customer_id"]
    own = purchases[purchases["customer_id"] == first].drop_duplicates()
    row = got[got["customer_id"] == first].iloc[0]
    assert row["calibration_days"] == (own["ordered_on"] <= ends[0]).sum()


def test_holdout_window_shrinks_to_half_a_short_history():
    assert holdout_window(date(2025, 1, 1), date(2025, 12, 31), 180) == (
        date(2025, 7, 4),
        date(2025, 12, 31),
    )
    assert holdout_window(date(2025, 1, 1), date(2025, 5, 1), 180) == (
        date(2025, 3, 2),
        date(2025, 5, 1),
    )


def test_the_asset_reports_what_the_library_computes_on_the_raw_ids(tmp_path, monkeypatch):
    """The asset summarises purchase days per customer in SQL before pandas sees them; its
    figures are those of the pandas report on the purchases themselves (a purchase day bought
    twice counted once)."""
    import dagster as dg

    from orchestration.model_assets import HoldoutConfig, clv_holdout_validation
    from orchestration.resources import Warehouse

    purchases = simulated_purchases(400, seed=5)
    orders = pd.concat([purchases, purchases.head(50)], ignore_index=True)  # same-day repeats
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path))
    warehouse = Warehouse()
    with warehouse.connect() as con:
        con.execute("create schema marts; create schema intermediate")
        con.execute("create table intermediate.int_as_of as select date '2025-12-31' as as_of_date")
        con.register("orders", orders)
        con.execute(
            "create table marts.fct_orders as "
            "select customer_id, ordered_on, true as is_purchase from orders "
            "union all select 'c-cancelled', date '2025-03-01', false"
        )
    result = clv_holdout_validation(
        context=dg.build_asset_context(), warehouse=warehouse, config=HoldoutConfig()
    )
    first = purchases["ordered_on"].min()
    calibration_end, holdout_end = holdout_window(first, date(2025, 12, 31), 180)
    expected = holdout_report(purchases, calibration_end, holdout_end)
    metadata = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert metadata["customers"] == expected.customers
    assert metadata["actual_purchases"] == expected.actual_purchases
    assert metadata["predicted_purchases"] == round(expected.predicted_purchases, 1)
    with warehouse.connect() as con:
        deciles = con.execute(
            "select decile, customers, actual from marts.clv_holdout_validation order by 1"
        ).fetchall()
    assert deciles == [
        (row.decile, row.customers, row.actual) for row in expected.deciles.itertuples()
    ]
