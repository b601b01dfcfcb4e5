"""Daily partitions: the day a file belongs to, the files a run for some days loads, and the
`retention backfill` / `status` commands over a real run."""

from __future__ import annotations

import os
from datetime import date

import duckdb
from click.testing import CliRunner

from ingestion import files, loader, settings, sources
from ingestion.contract import ORDERS
from ingestion.demo.generator import generate
from orchestration.cli import main as cli


def test_delivery_day_comes_from_the_name_else_the_modification_time(tmp_path):
    dashed = tmp_path / "orders_2026-10-31.csv"
    compact = tmp_path / "export_20261030_v2.csv"
    impossible = tmp_path / "orders_2026-13-45.csv"
    plain = tmp_path / "orders.csv"
    for path in (dashed, compact, impossible, plain):
        path.write_text("order_id\n1\n", encoding="utf-8")
    os.utime(impossible, (1_700_000_000, 1_700_000_000))  # 2023-11-14 22:13:20 UTC
    os.utime(plain, (1_767_225_599, 1_767_225_599))  # 2025-12-31 23:59:59 UTC
    assert files.delivery_date(dashed) == date(2026, 10, 31)
    assert files.delivery_date(compact) == date(2026, 10, 30)
    assert files.delivery_date(impossible) == date(2023, 11, 14)
    assert files.delivery_date(plain) == date(2025, 12, 31)


def _orders_file(landing, day: str, rows: int) -> None:
    folder = landing / "orders" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["order_id,customer_id,ordered_at,status,currency,total_amount,updated_at"]
    lines += [
        f"O{day}-{i},C{i},{day} 10:00:00,completed,EUR,10.5,{day} 10:00:00" for i in range(rows)
    ]
    (folder / f"orders_{day}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_window_loads_only_its_days_and_pending_days_follow_the_ledger(tmp_path):
    landing, rejected = tmp_path / "landing", tmp_path / "rejected"
    for day, rows in (("2026-10-29", 2), ("2026-10-30", 3), ("2026-10-31", 4)):
        _orders_file(landing, day, rows)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert loader.pending_days(con, landing) == [
        date(2026, 10, 29),
        date(2026, 10, 30),
        date(2026, 10, 31),
    ]
    items = [
        (p, p.relative_to(landing).as_posix())
        for p in loader.discover(landing, ORDERS, loader.Window(date(2026, 10, 30), None))
    ]
    results = loader.load_files(con, ORDERS, items, rejected=rejected, validate=False)
    assert [r.source_file for r in results] == [
        "orders/orders/orders_2026-10-30.csv",
        "orders/orders/orders_2026-10-31.csv",
    ]
    by_day = con.execute(
        "select _delivered_on, count(*) from raw.orders_orders group by 1 order by 1"
    ).fetchall()
    assert by_day == [(date(2026, 10, 30), 3), (date(2026, 10, 31), 4)]
    ledger_days = con.execute(
        "select delivered_on from raw.load_ledger order by delivered_on"
    ).fetchall()
    assert ledger_days == [(date(2026, 10, 30),), (date(2026, 10, 31),)]
    assert loader.pending_days(con, landing) == [date(2026, 10, 29)]
    # A file re-delivered under a loaded name with other content is pending again.
    _orders_file(landing, "2026-10-31", 5)
    assert loader.pending_days(con, landing) == [date(2026, 10, 29), date(2026, 10, 31)]
    con.close()


def test_backfill_builds_the_range_and_status_reports_it():
    landing = settings.paths().ensure().landing
    generate(landing, customers=60, days=12, end_date=date(2026, 10, 31), seed=8)
    runner = CliRunner()
    done = runner.invoke(cli, ["backfill", "--from", "2026-10-20", "--to", "2026-10-31"])
    assert done.exit_code == 0, done.output
    assert "2026-10-20 … 2026-10-31 (12 day(s))" in done.output
    assert "succeeded" in done.output

    status = runner.invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    lines = status.output.splitlines()
    # The generator wrote 12 daily files per entity, 2026-10-20 … 2026-10-31: all built.
    orders = next(line for line in lines if line.strip().startswith("orders_orders"))
    assert "12 day(s)" in orders and "2026-10-20 … 2026-10-31" in orders
    assert "SUCCESS" in status.output
    assert "Waiting in landing: nothing" in status.output
    assert "BI read copy: published" in status.output


def test_ingest_entity_without_validation_loads_the_same_rows_and_records_no_gx_verdict(
    tmp_path, monkeypatch
):
    """The benchmark's CSV variant loads without Great Expectations: same rows, no verdicts."""
    counts = {}
    for validate in (False, True):
        monkeypatch.setenv("RETENTION_HOME", str(tmp_path / str(validate)))
        paths = settings.paths().ensure()
        _orders_file(paths.landing, "2026-10-31", 3)
        with duckdb.connect(str(paths.warehouse)) as con:
            results = sources.ingest_entity(con, ORDERS, paths, validate=validate)
            counts[validate] = (
                [r.rows_loaded for r in results],
                con.execute("select count(*) from raw.orders_orders").fetchone()[0],
                con.execute("select count(*) from raw.batch_validation").fetchone()[0] > 0,
            )
    assert counts == {False: ([3], 3, False), True: ([3], 3, True)}
