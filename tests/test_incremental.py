"""Daily increments equal a full rebuild.

Two homes get the same generated files. The full home is built in one run over every day. The
incremental home is built up to two days before the end, then one daily partition at a time,
each time only that day's files landing first — through the Dagster job, as the schedule does
(raw and the partitioned staging layer), each time followed by the rest of the models with
`dbt run`, as the job does (the order-grain models are incremental per customer too). Every
staging, intermediate, mart and audience relation must then be equal, row for row. The last
days carry new versions of records first delivered earlier (status changes, re-exported order
lines, one order moved to another customer), so the increments must replace rows, not only
append them."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingestion import files
from ingestion.demo.generator import generate
from orchestration import partitions
from orchestration.resources import DBT_PROJECT_DIR
from tests.dbt_helpers import run_dbt

END = date(2026, 10, 31)
# Before the first generated day (40 days up to END): the range holds the whole history.
START = date(2026, 9, 1)
INCREMENTS = [date(2026, 10, 30), END]
# Relations that record when they were built rather than what the data says.
RUN_DEPENDENT = {
    "audiences.audience_membership_history",
    "audiences.int_audience_outcome_members",
    "audiences.audience_outcomes",
    "audiences.audience_outcomes_by_manager",
}


def land(source: Path, home: Path, keep) -> int:
    """Copy the files whose delivery day passes `keep` into the home's landing folder."""
    copied = 0
    for path in source.rglob("*.*"):
        if "_truth" in path.parts or not keep(files.delivery_date(path)):
            continue
        target = home / "data" / "landing" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def build(home: Path, monkeypatch, **run) -> None:
    """The daily job's partitioned part: ingestion and the incremental staging models."""
    monkeypatch.setenv("RETENTION_HOME", str(home))
    from orchestration.definitions import defs

    job = defs.resolve_job_def("retention_daily")
    selection = [
        key for key in job.asset_layer.executable_asset_keys if key.path[0] in ("raw", "staging")
    ]
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=selection, **run
    )
    assert result.success


def move_an_order(source: Path) -> tuple[str, str, str]:
    """A correction delivered on the last day: a customer's first purchase re-exported under
    another customer who bought before and after it, so the sequence numbers of both
    customers' later orders change."""
    folder = source / "orders" / "orders"
    orders = [
        row
        for path in sorted(folder.glob("orders_*.csv"))
        for row in csv.DictReader(path.open(newline="", encoding="utf-8"))
        if row["status"] == "completed"
    ]
    by_customer: dict[str, list[dict]] = {}
    for row in sorted(orders, key=lambda r: r["ordered_at"]):
        by_customer.setdefault(row["customer_id"], []).append(row)
    order = next(rows[0] for rows in by_customer.values() if len(rows) >= 3)
    other = next(
        customer
        for customer, rows in by_customer.items()
        if rows[0]["ordered_at"] < order["ordered_at"] < rows[-1]["ordered_at"]
    )
    moved = {**order, "customer_id": other, "updated_at": "2026-10-31 12:00:00"}
    with (folder / "orders_2026-10-31_correction.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(order))
        writer.writeheader()
        writer.writerow(moved)
    return order["order_id"], order["customer_id"], other


def rebuild_models(home: Path) -> None:
    """The job's unpartitioned part: every model but the daily staging ones."""
    warehouse = home / "data" / "warehouse.duckdb"
    run_dbt(["seed"], warehouse, home)
    run_dbt(["run", "--exclude", "tag:daily"], warehouse, home)


def compiled(step: str, model: str) -> str:
    """The SQL dbt compiled for `model` in the latest run of the Dagster dbt step `step`."""
    runs = (DBT_PROJECT_DIR / "target").glob(f"{step}-*")
    latest = max(runs, key=lambda folder: folder.stat().st_mtime)
    return next((latest / "compiled").rglob(f"{model}.sql")).read_text()


def rows(con, name: str) -> list[tuple]:
    """All rows but the load and build timestamps (each home ran at its own time), floats
    rounded."""
    columns = {c for (c,) in con.execute(f"select column_name from (describe {name})").fetchall()}
    stamps = sorted({"loaded_at", "built_at"} & columns)
    exclude = f" exclude ({', '.join(stamps)})" if stamps else ""
    return [
        tuple(round(v, 6) if isinstance(v, float) else v for v in row)
        for row in con.execute(f"select *{exclude} from {name} order by all").fetchall()
    ]


def relations(con) -> list[str]:
    found = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ('staging', 'intermediate', 'marts', 'audiences') "
        "union all select schema_name || '.' || view_name from duckdb_views() "
        "where schema_name = 'staging' order by 1"
    ).fetchall()
    return [name for (name,) in found if name not in RUN_DEPENDENT]


@pytest.mark.timeout(900)
def test_two_daily_increments_equal_a_full_rebuild(tmp_path, monkeypatch):
    source = tmp_path / "generated"
    generate(source, customers=150, days=40, end_date=END, seed=21, dirty=0.003)
    order_id, first_customer, second_customer = move_an_order(source)

    full, incremental = tmp_path / "full", tmp_path / "incremental"
    land(source, full, lambda day: True)
    build(full, monkeypatch, tags=partitions.range_tags(START, END))
    rebuild_models(full)

    land(source, incremental, lambda day: day < INCREMENTS[0])
    build(
        incremental,
        monkeypatch,
        tags=partitions.range_tags(START, date(2026, 10, 29)),
    )
    rebuild_models(incremental)
    for day in INCREMENTS:
        assert land(source, incremental, lambda d, day=day: d == day) > 0
        build(incremental, monkeypatch, partition_key=day.isoformat())
        # Dagster handed dbt the day (partitions.dbt_window): the increment read that day.
        window = f"between cast('{day}' as date) and cast('{day}' as date)"
        assert window in compiled("retention_dbt_daily", "stg_orders__orders")
        rebuild_models(incremental)

    with (
        duckdb.connect(str(full / "data" / "warehouse.duckdb"), read_only=True) as full_con,
        duckdb.connect(str(incremental / "data" / "warehouse.duckdb"), read_only=True) as inc_con,
    ):
        # The increments were real: the last day re-delivered orders first seen earlier.
        updated = inc_con.execute(
            "select count(distinct order_id) from raw.orders_orders "
            "where _delivered_on = ? and order_id in "
            "(select order_id from raw.orders_orders where _delivered_on < ?)",
            [END, END],
        ).fetchone()[0]
        assert updated > 0
        moved = "select customer_id from marts.fct_orders where order_id = ?"
        assert inc_con.execute(moved, [order_id]).fetchall() == [(second_customer,)]
        assert first_customer != second_customer
        # Only what changed was rebuilt on the last day: most orders kept their first build.
        stamps = inc_con.execute(
            "select count(distinct built_at), count(*) filter (where built_at < "
            "(select max(built_at) from marts.fct_orders)) * 2 > count(*) from marts.fct_orders"
        ).fetchone()
        assert stamps == (3, True)
        names = relations(full_con)
        assert names == relations(inc_con)
        assert "staging.stg_orders__orders" in names and "marts.customer_churn" in names
        for name in names:
            assert rows(full_con, name) == rows(inc_con, name), name
