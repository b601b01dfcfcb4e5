"""Parquet columns whose type fits the contract load as delivered; any other type (text, floats
in integer or decimal columns, oversized numbers) is read through its text, as a CSV value
would be. Either way the outcome is the one written down here by hand: the values loaded, the
rows quarantined with their reasons and original record, and a GX verdict that reconciles."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import loader
from ingestion.contract import CUSTOMERS, ORDER_LINES, ORDERS, Entity


@pytest.fixture
def env(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield con, tmp_path / "landing", tmp_path / "rejected"
    con.close()


def put(landing: Path, entity: Entity, name: str, columns: dict) -> None:
    folder = landing / entity.source / entity.name
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / name)


def load(con, landing: Path, rejected: Path, entity: Entity) -> list[tuple]:
    results = loader.load_landing(con, landing, rejected, [entity])[entity.table]
    # Great Expectations judged every batch the same as the SQL rules.
    assert con.execute("select bool_and(reconciled) from raw.batch_validation").fetchone()[0]
    return [(r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in results]


def held(con) -> list[tuple]:
    """(file, row, reasons, record) of every quarantined row; records as dicts."""
    return [
        (Path(f).name, n, list(reasons), json.loads(record))
        for f, n, reasons, record in con.execute(
            "select source_file, row_number, reasons, record from raw.quarantine order by all"
        ).fetchall()
    ]


def line_record(line_number, quantity, unit_price, unit_cost, order_id="O1") -> dict:
    return {
        "order_id": order_id,
        "line_number": line_number,
        "product_id": "SKU-1",
        "category": "Garden",
        "quantity": quantity,
        "unit_price": unit_price,
        "unit_cost": unit_cost,
    }


def lines(n: int, **columns) -> dict:
    return {
        "order_id": ["O1"] * n,
        "product_id": ["SKU-1"] * n,
        "category": ["Garden"] * n,
        **columns,
    }


def put_lines(landing: Path, day: str, n: int, **columns) -> str:
    """`n` lines of order O1 (`lines`) written as lines_<day>.parquet; returns the file name."""
    name = f"lines_{day}.parquet"
    put(landing, ORDER_LINES, name, lines(n, **columns))
    return name


def dec(values, precision, scale):
    return pa.array(
        [None if v is None else Decimal(v) for v in values], pa.decimal128(precision, scale)
    )


def test_contract_typed_columns_load_as_delivered(env):
    con, landing, rejected = env
    columns = lines(
        8,
        line_number=pa.array([1, None, 0, 4, 5, 6, 7, 1], pa.int32()),
        quantity=dec(["2", "2", "2", "2", "999999999999999.999", "0", "2", "2"], 18, 3),
        unit_price=dec(["10", "10", "10", "-1", "99999999999999.9999", "10", "10", "11"], 18, 4),
        unit_cost=dec(["4", "4", "4", "4", None, "4", "4", "4"], 18, 4),
    )
    columns["order_id"][6] = None
    put(landing, ORDER_LINES, "lines_2025-03-01.parquet", columns)

    assert load(con, landing, rejected, ORDER_LINES) == [("loaded", 8, 2, 6)]
    assert con.execute(
        "select _row_number, line_number, quantity, unit_price, unit_cost "
        "from raw.orders_order_lines order by 1"
    ).fetchall() == [
        (5, 5, Decimal("999999999999999.999"), Decimal("99999999999999.9999"), None),
        (8, 1, Decimal("2.000"), Decimal("11.0000"), Decimal("4.0000")),
    ]
    name = "lines_2025-03-01.parquet"
    assert held(con) == [
        # Of the two rows keyed (O1, 1) the later (row 8) wins.
        (name, 1, ["duplicate_key"], line_record("1", "2.000", "10.0000", "4.0000")),
        (name, 2, ["missing:line_number"], line_record(None, "2.000", "10.0000", "4.0000")),
        (name, 3, ["range:line_number"], line_record("0", "2.000", "10.0000", "4.0000")),
        (name, 4, ["negative:unit_price"], line_record("4", "2.000", "-1.0000", "4.0000")),
        (name, 6, ["range:quantity"], line_record("6", "0.000", "10.0000", "4.0000")),
        (name, 7, ["missing:order_id"], line_record("7", "2.000", "10.0000", "4.0000", None)),
    ]


def test_other_types_are_read_as_their_text(env):
    con, landing, rejected = env
    name = put_lines(
        landing,
        "2025-03-01",
        6,
        line_number=pa.array([1.0, 1.5, None, 1e10, 3.0, 4.0], pa.float64()),
        quantity=pa.array([2, 2, 2, 2, -3, 2**63 - 1], pa.int64()),
        unit_price=pa.array([1.23456, 10.0, 10.0, 10.0, 10.0, float("nan")], pa.float64()),
        unit_cost=dec(["4", "4", "4", "4", "12345678901234567890", "4"], 38, 2),
    )

    assert load(con, landing, rejected, ORDER_LINES) == [("loaded", 6, 1, 5)]
    # A float with a whole value is a line number; the price is rounded to the contract scale.
    assert con.execute(
        "select _row_number, line_number, quantity, unit_price, unit_cost "
        "from raw.orders_order_lines"
    ).fetchall() == [(1, 1, Decimal("2.000"), Decimal("1.2346"), Decimal("4.0000"))]
    assert held(con) == [
        (name, 2, ["type:line_number"], line_record("1.5", "2", "10.0", "4.00")),
        (name, 3, ["missing:line_number"], line_record(None, "2", "10.0", "4.00")),
        (name, 4, ["type:line_number"], line_record("10000000000.0", "2", "10.0", "4.00")),
        (
            name,
            5,
            ["range:quantity", "type:unit_cost"],
            line_record("3.0", "-3", "10.0", "12345678901234567890.00"),
        ),
        (
            name,
            6,
            ["type:quantity", "type:unit_price"],
            line_record("4.0", "9223372036854775807", "nan", "4.00"),
        ),
    ]


def test_text_columns_in_parquet_are_parsed_like_csv(env):
    con, landing, rejected = env
    name = put_lines(
        landing,
        "2025-03-01",
        5,
        line_number=[" 7 ", "abc", "", "0x10", "8"],
        quantity=["1 234.5", "2", "2", "2", "2"],
        unit_price=["10", "10", "10", "10", "12,50"],
        unit_cost=["4", "4", "4", "4", "4"],
    )

    assert load(con, landing, rejected, ORDER_LINES) == [("loaded", 5, 1, 4)]
    assert con.execute(
        "select line_number, quantity, unit_price from raw.orders_order_lines"
    ).fetchall() == [(7, Decimal("1234.500"), Decimal("10.0000"))]
    assert held(con) == [
        (name, 2, ["type:line_number"], line_record("abc", "2", "10", "4")),
        (name, 3, ["missing:line_number"], line_record("", "2", "10", "4")),
        (name, 4, ["type:line_number"], line_record("0x10", "2", "10", "4")),
        # No decimal comma in Parquet: it has no delimiter to leave the comma free.
        (name, 5, ["type:unit_price"], line_record("8", "2", "12,50", "4")),
    ]


def test_files_of_one_scan_share_the_wider_type(env):
    """Files loaded together are read as one scan: an integer column in one file and a float
    column in the other are both read as floats, and only 1.5 is not a line number."""
    con, landing, rejected = env
    money = {"quantity": dec(["2", "2"], 18, 3), "unit_price": dec(["10", "10"], 18, 4)}
    put_lines(landing, "2025-03-01", 2, line_number=pa.array([1, 2], pa.int32()), **money)
    put_lines(landing, "2025-03-02", 2, line_number=pa.array([1.0, 1.5], pa.float64()), **money)

    assert load(con, landing, rejected, ORDER_LINES) == [
        ("loaded", 2, 2, 0),
        ("loaded", 2, 1, 1),
    ]
    assert con.execute(
        "select _source_file, line_number, unit_cost from raw.orders_order_lines order by all"
    ).fetchall() == [
        ("orders/order_lines/lines_2025-03-01.parquet", 1, None),
        ("orders/order_lines/lines_2025-03-01.parquet", 2, None),
        ("orders/order_lines/lines_2025-03-02.parquet", 1, None),
    ]
    assert held(con) == [
        (
            "lines_2025-03-02.parquet",
            2,
            ["type:line_number"],
            line_record("1.5", "2.000", "10.0000", None),
        )
    ]


def test_native_timestamps_and_widened_amounts(env):
    con, landing, rejected = env
    ts = pa.timestamp("us")
    put(
        landing,
        ORDERS,
        "orders_2025-03-02.parquet",
        {
            "order_id": ["O1", "O2", "O3", "O4", "O5"],
            "customer_id": ["C1"] * 5,
            "ordered_at": pa.array(
                [
                    datetime(2025, 3, 1, 12, 30, 15, 250000),
                    datetime(1999, 12, 31, 23, 59, 59),
                    None,
                    datetime(2999, 1, 1),
                    datetime(2025, 3, 1),
                ],
                ts,
            ),
            "updated_at": pa.array([datetime(2025, 3, 2)] * 5, ts),
            "status": ["completed", "completed", "completed", "completed", "Pending"],
            "currency": ["EUR"] * 5,
            # Whole amounts as 32-bit integers; discount_amount and sales_channel are absent.
            "total_amount": pa.array([100, 100, 100, 100, -5], pa.int32()),
        },
    )

    assert load(con, landing, rejected, ORDERS) == [("loaded", 5, 1, 4)]
    assert con.execute(
        "select order_id, ordered_at, status, total_amount, discount_amount, sales_channel "
        "from raw.orders_orders"
    ).fetchall() == [
        ("O1", datetime(2025, 3, 1, 12, 30, 15, 250000), "completed", Decimal("100.00"), None, None)
    ]

    def record(order_id, ordered_at, status="completed", total="100"):
        return {
            "order_id": order_id,
            "customer_id": "C1",
            "ordered_at": ordered_at,
            "updated_at": "2025-03-02 00:00:00",
            "status": status,
            "currency": "EUR",
            "total_amount": total,
            "discount_amount": None,
            "sales_channel": None,
        }

    name = "orders_2025-03-02.parquet"
    assert held(con) == [
        (name, 2, ["range:ordered_at"], record("O2", "1999-12-31 23:59:59")),
        (name, 3, ["missing:ordered_at"], record("O3", None)),
        (name, 4, ["future:ordered_at"], record("O4", "2999-01-01 00:00:00")),
        (
            name,
            5,
            ["negative:total_amount"],
            record("O5", "2025-03-01 00:00:00", "Pending", "-5"),
        ),
    ]


def test_native_booleans(env):
    con, landing, rejected = env
    ts = pa.timestamp("us")
    put(
        landing,
        CUSTOMERS,
        "customers_2025-03-02.parquet",
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": ["Anna", "Boris", "Clara"],
            "created_at": pa.array([datetime(2025, 1, 1)] * 3, ts),
            "updated_at": pa.array([datetime(2025, 1, 2)] * 3, ts),
            "marketing_consent": [True, None, False],
            "do_not_contact": [False, False, True],
            "is_vip": ["yes", "no", "maybe"],
        },
    )

    assert load(con, landing, rejected, CUSTOMERS) == [("loaded", 3, 1, 2)]
    assert con.execute(
        "select customer_id, marketing_consent, do_not_contact, is_vip from raw.crm_customers"
    ).fetchall() == [("C1", True, False, True)]
    assert [
        (n, reasons, r["marketing_consent"], r["is_vip"]) for _, n, reasons, r in held(con)
    ] == [
        (2, ["missing:marketing_consent"], None, "no"),
        (3, ["type:is_vip"], "false", "maybe"),
    ]


def test_unreadable_parquet_is_rejected_and_the_rest_loads(env):
    """A truncated file and a text file named .parquet are rejected with a reason and kept in
    the rejected folder; the good file beside them loads."""
    con, landing, rejected = env
    good_name = put_lines(
        landing,
        "2026-10-01",
        2,
        line_number=[1, 2],
        quantity=[1, 2],
        unit_price=dec(["1.00", "2.00"], 18, 4),
        unit_cost=dec(["0.5", None], 18, 4),
    )
    folder = landing / ORDER_LINES.source / ORDER_LINES.name
    good = (folder / good_name).read_bytes()
    (folder / "lines_2026-10-02.parquet").write_bytes(good[: len(good) // 2])
    (folder / "lines_2026-10-03.parquet").write_text("order_id,line_number\nO1,1\n")
    results = loader.load_landing(con, landing, rejected, [ORDER_LINES])[ORDER_LINES.table]
    by_file = {Path(r.source_file).name: r for r in results}
    assert by_file[good_name].rows_loaded == 2
    for name in ("lines_2026-10-02.parquet", "lines_2026-10-03.parquet"):
        assert by_file[name].status == "rejected"
        assert by_file[name].reason.startswith("not a readable Parquet file")
        kept = next(rejected.rglob(name))
        assert "not a readable Parquet file" in kept.with_name(name + ".reason").read_text()
    assert con.execute("select count(*) from raw.orders_order_lines").fetchone()[0] == 2


def one_order(landing: Path, day: str, ts, ordered_at: datetime, total_amount, **extra) -> None:
    """orders_2025-03-<day>.parquet with one completed order O<day>, updated 2 March."""
    put(
        landing,
        ORDERS,
        f"orders_2025-03-{day}.parquet",
        {
            "order_id": [f"O{day}"],
            "customer_id": ["C1"],
            "ordered_at": pa.array([ordered_at], ts),
            "updated_at": pa.array([datetime(2025, 3, 2)], ts),
            "status": ["completed"],
            "currency": ["EUR"],
            "total_amount": total_amount,
            **extra,
        },
    )


def test_a_value_the_groups_common_type_cannot_hold_does_not_stop_the_load(env):
    """Read together, a nanosecond file makes the scan's type TIMESTAMP_NS, which cannot hold
    a microsecond file's year 2999: the files are retried one by one and both load (the year
    2999 row quarantined as future)."""
    con, landing, rejected = env
    for day, unit, when in (("01", "ns", datetime(2025, 3, 1)), ("02", "us", datetime(2999, 1, 1))):
        one_order(landing, day, pa.timestamp(unit), when, pa.array([100], pa.int32()))
    assert load(con, landing, rejected, ORDERS) == [("loaded", 1, 1, 0), ("loaded", 1, 0, 1)]
    assert [(name, reasons) for name, _, reasons, _ in held(con)] == [
        ("orders_2025-03-02.parquet", ["future:ordered_at"])
    ]


def test_each_file_is_read_with_its_own_columns(env):
    """The first file lacks the optional discount_amount and sales_channel; the second has
    them: its values load (files with different columns are different scans)."""
    con, landing, rejected = env
    for day, extra in (
        ("01", {}),
        ("02", {"discount_amount": dec(["5.00"], 18, 2), "sales_channel": ["web"]}),
    ):
        when = datetime(2025, 3, int(day))
        one_order(landing, day, pa.timestamp("us"), when, dec(["100.00"], 18, 2), **extra)
    assert load(con, landing, rejected, ORDERS) == [("loaded", 1, 1, 0), ("loaded", 1, 1, 0)]
    assert con.execute(
        "select order_id, discount_amount, sales_channel from raw.orders_orders order by 1"
    ).fetchall() == [("O01", None, None), ("O02", Decimal("5.00"), "web")]
