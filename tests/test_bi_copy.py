"""BI tools read a copy that is swapped in whole: never an error, never half a build."""

import subprocess
import sys
import time

import duckdb
import pytest

from destinations.bi_copy import publish


def make_warehouse(path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.dim_customers as select range as id from range(?)",
            [rows],
        )
        con.execute(
            "create or replace table marts.fct_orders as select range as id from range(?)",
            [rows * 3],
        )


READER = """
import sys, time, duckdb
path, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
held = duckdb.connect(path, read_only=True) if mode == "held" else None
deadline = time.time() + seconds
while time.time() < deadline:
    con = held or duckdb.connect(path, read_only=True)
    customers, orders = con.execute(
        "select (select count(*) from marts.dim_customers), (select count(*) from marts.fct_orders)"
    ).fetchone()
    print(customers, orders, flush=True)
    if con is not held:
        con.close()
"""


def test_readers_during_rebuilds_see_only_complete_versions_and_never_fail(tmp_path):
    """Two BI-tool-like processes: one holds its connection open the whole time, one
    reconnects for every query, while the copy is republished five times."""
    warehouse, bi = tmp_path / "warehouse.duckdb", tmp_path / "bi"
    make_warehouse(warehouse, 1000)
    publish(warehouse, bi, run_id="r0")
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(bi / "retention.duckdb"), mode, "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("held", "fresh")
    ]
    time.sleep(0.5)
    for version in range(1, 6):
        make_warehouse(warehouse, 1000 + version * 100)
        published = publish(warehouse, bi, run_id=f"r{version}")
        rows = 1000 + version * 100
        assert published.tables == {"marts.dim_customers": rows, "marts.fct_orders": 3 * rows}
        time.sleep(0.3)
    outputs = [reader.communicate(timeout=60) for reader in readers]

    for reader, (_, stderr) in zip(readers, outputs, strict=True):
        assert reader.returncode == 0, stderr
    held, fresh = (
        {tuple(map(int, line.split())) for line in out.splitlines()} for out, _ in outputs
    )
    # Every observation is one whole published version: three orders per customer.
    assert all(orders == 3 * customers for customers, orders in held | fresh)
    # The open connection keeps its version; a new one gets the newest published copy.
    assert held == {(1000, 3000)}
    assert (1500, 4500) in fresh and len(fresh) > 1
    assert (bi / "parquet" / "current" / "marts.dim_customers.parquet").exists()


def test_intermediates_and_delivery_bookkeeping_are_not_published(tmp_path):
    warehouse, bi = tmp_path / "warehouse.duckdb", tmp_path / "bi"
    make_warehouse(warehouse, 10)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema audiences; create schema staging")
        for name in ("audience_win_back", "int_audience_customers", "destination_state"):
            con.execute(f"create table audiences.{name} as select 1 as id")
        con.execute("create table marts.interval_stats as select 1 as id")  # not an int_ model
        con.execute("create table staging.stg_orders as select 1 as id")
    published = publish(warehouse, bi, run_id="r1")
    expected = {"marts.dim_customers", "marts.fct_orders", "marts.interval_stats"}
    expected.add("audiences.audience_win_back")
    assert set(published.tables) == expected
    with duckdb.connect(str(published.database), read_only=True) as con:
        tables = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where schema_name <> 'published'"
        ).fetchall()
    assert {name for (name,) in tables} == expected
    assert {p.name for p in published.parquet.glob("*.parquet")} == {
        f"{name}.parquet" for name in expected
    }


def test_a_failed_publish_leaves_the_previous_copy(tmp_path):
    warehouse, bi = tmp_path / "warehouse.duckdb", tmp_path / "bi"
    make_warehouse(warehouse, 10)
    publish(warehouse, bi, run_id="good")
    before = (bi / "retention.duckdb").read_bytes()
    with pytest.raises(duckdb.Error):
        publish(tmp_path / "missing" / "warehouse.duckdb", bi, run_id="bad")
    assert (bi / "retention.duckdb").read_bytes() == before
    assert not list(bi.glob(".retention.duckdb.*.tmp"))
    with duckdb.connect(str(bi / "retention.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone() == (10,)


def test_a_failed_parquet_export_leaves_the_previous_copy(tmp_path, monkeypatch):
    """The Parquet files are written beside the copy, on another connection: their failure
    fails the publish as the copy's own would."""
    from destinations import bi_copy

    warehouse, bi = tmp_path / "warehouse.duckdb", tmp_path / "bi"
    make_warehouse(warehouse, 10)
    publish(warehouse, bi, run_id="good")
    make_warehouse(warehouse, 20)

    def full_disk(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(bi_copy, "_write_parquet", full_disk)
    with pytest.raises(OSError, match="No space left"):
        publish(warehouse, bi, run_id="bad")
    assert not list(bi.glob(".retention.duckdb.*.tmp"))
    assert [p.name for p in (bi / "parquet").glob("v*")] == [
        (bi / "parquet" / "current").resolve().name
    ]
    with duckdb.connect(str(bi / "retention.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone() == (10,)
