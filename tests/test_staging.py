"""Staging keeps the latest version of each key, whatever order the files arrive in."""

from datetime import datetime
from decimal import Decimal

import duckdb

from ingestion import loader
from ingestion.contract import ORDER_LINES, ORDERS, TICKETS
from tests.dbt_helpers import run_dbt
from tests.test_ingestion import ORDER_HEADER, put

LINES_HEADER = "order_id,line_number,product_id,category,quantity,unit_price,unit_cost\n"


def test_later_versions_win_in_staging(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "w.duckdb"
    put(
        landing,
        ORDERS,
        "orders_2025-01-01.csv",
        ORDER_HEADER
        + "O1,C1,2025-01-01 10:00,2025-01-01 10:00,pending,EUR,30,0,web\n"
        + "O2,C2,2025-01-01 11:00,2025-01-01 11:00,completed,EUR,12,0,web\n",
    )
    put(
        landing,
        ORDER_LINES,
        "order_lines_2025-01-01.csv",
        LINES_HEADER + "O1,1,P1,toys,1,10,6\nO1,2,P2,toys,2,10,5\nO2,1,P3,books,1,12,8\n",
    )
    put(
        landing,
        ORDERS,
        "orders_2025-01-02.csv",
        ORDER_HEADER + "O1,C1,2025-01-01 10:00,2025-01-02 09:00,completed,EUR,10,0,web\n",
    )
    # O1 lost its second line when it was completed: only the latest export's lines count.
    put(landing, ORDER_LINES, "order_lines_2025-01-02.csv", LINES_HEADER + "O1,1,P1,toys,1,10,6\n")
    # A late re-delivery of O2's older state must not beat the newer `updated_at`.
    put(
        landing,
        ORDERS,
        "orders_2025-01-03.csv",
        ORDER_HEADER + "O2,C2,2025-01-01 11:00,2025-01-01 10:59,pending,EUR,12,0,web\n",
    )
    put(
        landing,
        TICKETS,
        "tickets_2025-01-02.csv",
        "ticket_id,customer_id,opened_at,updated_at,status,category\n"
        "T1,C1,2025-01-01 12:00,2025-01-01 12:00,open,complaint\n"
        "T1,C1,2025-01-01 12:00,2025-01-02 12:00,closed,complaint\n",
    )
    with duckdb.connect(str(warehouse)) as con:
        loader.load_landing(con, landing, tmp_path / "rejected")

    run_dbt(
        ["build", "--select", "staging", "--indirect-selection", "cautious"], warehouse, tmp_path
    )

    with duckdb.connect(str(warehouse), read_only=True) as con:
        orders = con.execute(
            "select order_id, order_status, total_amount, updated_at "
            "from staging.stg_orders__orders order by 1"
        ).fetchall()
        lines = con.execute(
            "select order_line_id, line_revenue, line_cost "
            "from staging.stg_orders__order_lines order by 1"
        ).fetchall()
        tickets = con.execute(
            "select ticket_id, ticket_status, is_open from staging.stg_support__tickets"
        ).fetchall()
    assert orders == [
        ("O1", "completed", Decimal("10.00"), datetime(2025, 1, 2, 9)),
        ("O2", "completed", Decimal("12.00"), datetime(2025, 1, 1, 11)),
    ]
    assert [(i, float(r), float(c)) for i, r, c in lines] == [
        ("O1-1", 10.0, 6.0),
        ("O2-1", 12.0, 8.0),
    ]
    assert tickets == [("T1", "closed", False)]


def test_keys_of_large_incremental_models_are_tested_on_their_latest_build(tmp_path, monkeypatch):
    """`where: __latest_build__` (macros/tests/get_where_subquery.sql): the unique test on an
    order-grain model reads the rows its latest build wrote, every row with `test_all_rows`
    (a var by hand, RETENTION_TEST_ALL_ROWS in the weekly run)."""
    warehouse = tmp_path / "w.duckdb"
    old, latest = "2026-10-30 06:00:00", "2026-10-31 06:00:00"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_orders__orders (order_id varchar, built_at timestamp)"
        )
        # An old build left a repeated key; the latest build's keys are distinct.
        con.execute(
            "insert into staging.stg_orders__orders values "
            f"('a', '{old}'), ('b', '{old}'), ('b', '{old}'), ('c', '{latest}'), ('d', '{latest}')"
        )
    unique = ["test", "--select", "stg_orders__orders,test_name:unique"]

    def failures(*extra: str) -> int:
        try:
            run_dbt([*unique, *extra], warehouse, tmp_path)
        except AssertionError as failed:
            assert "FAIL 1 unique_stg_orders__orders_order_id" in str(failed), failed
            return 1
        return 0

    assert failures() == 0
    assert failures("--vars", "{test_all_rows: true}") == 1
    monkeypatch.setenv("RETENTION_TEST_ALL_ROWS", "true")
    assert failures() == 1
    monkeypatch.setenv("RETENTION_TEST_ALL_ROWS", "false")
    assert failures() == 0
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"insert into staging.stg_orders__orders values ('d', '{latest}')")
    assert failures() == 1
