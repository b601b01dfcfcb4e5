"""Landing → raw on tiny hand-written files, with values written down by hand."""

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
from ingestion.contract import CUSTOMERS, ORDER_LINES, ORDERS, TICKETS

ORDER_HEADER = (
    "order_id,customer_id,ordered_at,updated_at,status,currency,total_amount,"
    "discount_amount,sales_channel\n"
)


@pytest.fixture
def env(tmp_path):
    landing, rejected = tmp_path / "landing", tmp_path / "rejected"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield con, landing, rejected
    con.close()


def put(landing: Path, entity, name: str, content: str | bytes) -> Path:
    folder = landing / entity.source / entity.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def test_utf8_csv_rows_arrive_exactly(env):
    con, landing, rejected = env
    put(
        landing,
        ORDERS,
        "orders_2025-01-01.csv",
        ORDER_HEADER
        + "O1,C1,2025-01-01 10:00:00,2025-01-01 10:00:00,pending,eur,100.50,0,web\n"
        + "O2,C2,2025-01-01T11:30:00,2025-01-02 09:00:00,Completed,EUR,12,1.5,\n",
    )
    results = loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    assert [(r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("loaded", 2, 2, 0)
    ]
    assert rows(
        con,
        "select order_id, customer_id, ordered_at, updated_at, status, currency, "
        "total_amount, discount_amount, sales_channel, _source_file, _row_number "
        "from raw.orders_orders order by order_id",
    ) == [
        (
            "O1",
            "C1",
            datetime(2025, 1, 1, 10),
            datetime(2025, 1, 1, 10),
            "pending",
            "eur",
            Decimal("100.50"),
            Decimal("0.00"),
            "web",
            "orders/orders/orders_2025-01-01.csv",
            1,
        ),
        (
            "O2",
            "C2",
            datetime(2025, 1, 1, 11, 30),
            datetime(2025, 1, 2, 9),
            "completed",
            "EUR",
            Decimal("12.00"),
            Decimal("1.50"),
            None,
            "orders/orders/orders_2025-01-01.csv",
            2,
        ),
    ]


def test_cp1251_semicolon_decimal_comma_with_cyrillic(env):
    con, landing, rejected = env
    header = (
        "customer_id;name;email;phone;company;created_at;updated_at;manager_id;"
        "acquisition_channel;referred_by_customer_id;preferred_channel;"
        "marketing_consent;do_not_contact;city;country\n"
    )
    row = (
        "К-1;Иванов Иван Петрович; Ivan@Example.RU ;+7 (915) 123-45-67;"
        '"ООО ""Ромашка""; филиал";05.01.2025 10:00:00;06.01.2025 08:15;M1;referral;;'
        "phone;да;нет;Санкт-Петербург;RU\n"
    )
    put(landing, CUSTOMERS, "customers_2025-01-06.csv", (header + row).encode("cp1251"))
    lines = (
        "order_id;line_number;product_id;category;quantity;unit_price;unit_cost\r\n"
        "З-1;1;SKU-1;Бытовая техника;2;1 234,50;800,25\r\n"
        "З-1;2;SKU-2;Посуда;0,5;99,9;\r\n"
    )
    put(landing, ORDER_LINES, "order_lines_2025-01-06.csv", lines.encode("cp1251"))

    results = loader.load_landing(con, landing, rejected, [CUSTOMERS, ORDER_LINES])
    assert all(
        r.status == "loaded" and r.rows_quarantined == 0
        for batch in results.values()
        for r in batch
    )
    assert rows(
        con,
        "select customer_id, name, email, phone, company, created_at, updated_at, "
        "marketing_consent, do_not_contact, city, country, referred_by_customer_id "
        "from raw.crm_customers",
    ) == [
        (
            "К-1",
            "Иванов Иван Петрович",
            "Ivan@Example.RU",
            "+7 (915) 123-45-67",
            'ООО "Ромашка"; филиал',
            datetime(2025, 1, 5, 10),
            datetime(2025, 1, 6, 8, 15),
            True,
            False,
            "Санкт-Петербург",
            "RU",
            None,
        ),
    ]
    assert rows(
        con,
        "select order_id, line_number, category, quantity, unit_price, unit_cost "
        "from raw.orders_order_lines order by line_number",
    ) == [
        ("З-1", 1, "Бытовая техника", Decimal("2.000"), Decimal("1234.5000"), Decimal("800.2500")),
        ("З-1", 2, "Посуда", Decimal("0.500"), Decimal("99.9000"), None),
    ]
    ledger = rows(con, "select encoding, delimiter from raw.load_ledger order by entity")
    assert ledger == [("cp1251", ";"), ("cp1251", ";")]


def test_header_tolerance_bom_tab_and_quoted_newlines(env):
    con, landing, rejected = env
    content = (
        "\ufeff Order ID \tCustomer_ID\tORDERED AT\tUpdated At\tStatus\tCurrency\t"
        "Total Amount\n"
        'O9\tC9\t2025-02-01 00:00:00\t2025-02-01 00:00:00\tcompleted\tRUB\t"10,5"\n'
    )
    put(landing, ORDERS, "orders.tsv", content)
    put(
        landing,
        CUSTOMERS,
        "customers.csv",
        "customer_id,name,created_at,updated_at,marketing_consent,do_not_contact,company\n"
        'C1,"Smith,\nJohn",2025-01-01,2025-01-01,true,false,"Acme ""Ltd"""\n'
        "C2,Jane,2025-01-01,2025-01-01,0,1,\n",
    )
    loader.load_landing(con, landing, rejected, [ORDERS, CUSTOMERS])
    assert rows(
        con, "select order_id, customer_id, total_amount, discount_amount from raw.orders_orders"
    ) == [("O9", "C9", Decimal("10.50"), None)]
    assert rows(
        con,
        "select customer_id, name, company, marketing_consent, do_not_contact, "
        "_row_number from raw.crm_customers order by 1",
    ) == [
        ("C1", "Smith,\nJohn", 'Acme "Ltd"', True, False, 1),
        ("C2", "Jane", None, False, True, 2),
    ]


def test_same_file_twice_changes_nothing_and_copy_is_a_duplicate(env):
    con, landing, rejected = env
    body = ORDER_HEADER + "O1,C1,2025-01-01,2025-01-01,completed,EUR,5,0,web\n"
    put(landing, ORDERS, "orders_2025-01-01.csv", body)
    loader.load_landing(con, landing, rejected, [ORDERS])
    snapshot = (
        rows(con, "select * from raw.orders_orders"),
        rows(con, "select * from raw.load_ledger"),
    )

    again = loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    assert [r.status for r in again] == ["skipped"]
    assert (
        rows(con, "select * from raw.orders_orders"),
        rows(con, "select * from raw.load_ledger"),
    ) == snapshot

    put(landing, ORDERS, "orders_copy.csv", body)
    third = {
        r.source_file: r.status
        for r in loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    }
    assert third["orders/orders/orders_copy.csv"] == "duplicate"
    assert rows(con, "select count(*) from raw.orders_orders") == [(1,)]
    # The duplicate is recorded once, not again on every run.
    loader.load_landing(con, landing, rejected, [ORDERS])
    assert rows(con, "select status, count(*) from raw.load_ledger group by 1 order by 1") == [
        ("duplicate", 1),
        ("loaded", 1),
    ]


def test_unreadable_files_are_moved_aside_with_reason_and_ledger_row(env):
    con, landing, rejected = env
    put(landing, ORDERS, "broken.csv", b"\x00\x01\x02binary")
    put(landing, ORDERS, "empty.csv", b"")
    put(
        landing,
        ORDERS,
        "no_amount.csv",
        "order_id,customer_id,ordered_at,updated_at,status,currency\n"
        "O1,C1,2025-01-01,2025-01-01,completed,EUR\n",
    )
    results = {
        r.source_file.rsplit("/", 1)[1]: r
        for r in loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    }
    assert {name: r.status for name, r in results.items()} == {
        "broken.csv": "rejected",
        "empty.csv": "rejected",
        "no_amount.csv": "rejected",
    }
    assert "missing required columns: total_amount" in results["no_amount.csv"].reason
    for name in results:
        assert not (landing / "orders/orders" / name).exists()
        kept = rejected / "orders/orders" / name
        assert kept.exists()
        reason = (kept.parent / f"{name}.reason").read_text(encoding="utf-8")
        assert reason.splitlines()[0] == results[name].reason
    assert rows(
        con, "select count(*) from raw.load_ledger where status = 'rejected' and reason is not null"
    ) == [(3,)]
    assert rows(con, "select count(*) from raw.orders_orders") == [(0,)]


def test_bad_rows_are_quarantined_with_every_reason_and_counts_reconcile(env):
    con, landing, rejected = env
    put(
        landing,
        ORDERS,
        "orders.csv",
        ORDER_HEADER
        + "O1,C1,2025-01-01,2025-01-01,completed,EUR,5,0,web\n"
        + "O2,,2025-01-01,2025-01-01,shipped,EUR,abc,0,web\n"
        + "O3,C3,1999-12-31,2025-01-01,completed,EUR,5,0,web,EXTRA\n"
        + "O4,C4,not a date,2025-01-01,completed,EUR,5,0,web\n",
    )
    (result,) = loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    assert rows(con, "select order_id from raw.orders_orders") == [("O1",)]
    quarantined = rows(
        con,
        "select row_number, line_number, reasons, record "
        "from raw.quarantine order by coalesce(row_number, 99)",
    )
    # Reasons come in contract column order.
    assert quarantined[0][:3] == (
        2,
        None,
        ["missing:customer_id", "allowed:status", "type:total_amount"],
    )
    assert json.loads(quarantined[0][3])["total_amount"] == "abc"
    assert quarantined[1][:3] == (3, None, ["type:ordered_at"])
    # The line with an extra field cannot be split: kept verbatim with its line number.
    assert quarantined[2][1:3] == (4, ["parse:too_many_columns"])
    assert "O3,C3,1999-12-31" in json.loads(quarantined[2][3])["csv_line"]
    assert rows(con, "select rows_read, rows_loaded, rows_quarantined from raw.load_ledger") == [
        (4, 1, 3)
    ]


def test_dates_before_the_floor_are_quarantined(env):
    con, landing, rejected = env
    put(
        landing,
        ORDERS,
        "orders.csv",
        ORDER_HEADER + "O1,C1,1970-01-01,2025-01-01,completed,EUR,5,0,web\n",
    )
    loader.load_landing(con, landing, rejected, [ORDERS])
    assert rows(con, "select reasons from raw.quarantine") == [(["range:ordered_at"],)]


def test_jsonl_and_parquet_sources(env):
    con, landing, rejected = env
    tickets = [
        {
            "ticket_id": "T1",
            "customer_id": "C1",
            "opened_at": "2025-03-01T10:00:00",
            "updated_at": "2025-03-01T10:00:00",
            "status": "open",
            "category": "complaint",
            "topic": "price",
            "satisfaction_score": None,
            "reopen_count": 0,
        },
        {
            "ticket_id": "T2",
            "customer_id": "C2",
            "opened_at": "2025-03-01 11:00:00",
            "updated_at": "2025-03-02 11:00:00",
            "status": "closed",
            "category": "question",
            "satisfaction_score": 5,
        },
    ]
    body = "\n".join(json.dumps(t) for t in tickets) + "\n{not json}\n"
    put(landing, TICKETS, "tickets_2025-03-02.jsonl", body)
    table = pa.table(
        {
            "order_id": ["P1"],
            "customer_id": ["C1"],
            "ordered_at": pa.array([datetime(2025, 3, 1, 12)], pa.timestamp("us")),
            "updated_at": pa.array([datetime(2025, 3, 1, 12)], pa.timestamp("us")),
            "status": ["completed"],
            "currency": ["EUR"],
            "total_amount": pa.array([Decimal("19.99")], pa.decimal128(18, 2)),
            "discount_amount": [0.0],
            "sales_channel": ["app"],
        }
    )
    (landing / "orders/orders").mkdir(parents=True)
    pq.write_table(table, landing / "orders/orders/orders_2025-03-01.parquet")

    results = loader.load_landing(con, landing, rejected, [TICKETS, ORDERS])
    (tickets_result,) = results["support_tickets"]
    assert (
        tickets_result.rows_read,
        tickets_result.rows_loaded,
        tickets_result.rows_quarantined,
    ) == (3, 2, 1)
    assert rows(
        con,
        "select ticket_id, opened_at, status, topic, satisfaction_score, "
        "reopen_count from raw.support_tickets order by 1",
    ) == [
        ("T1", datetime(2025, 3, 1, 10), "open", "price", None, 0),
        ("T2", datetime(2025, 3, 1, 11), "closed", None, 5, None),
    ]
    assert rows(con, "select row_number, reasons from raw.quarantine") == [
        (3, ["parse:invalid_json"])
    ]
    assert rows(
        con, "select order_id, ordered_at, total_amount, _row_number from raw.orders_orders"
    ) == [("P1", datetime(2025, 3, 1, 12), Decimal("19.99"), 1)]


def test_each_jsonl_file_is_read_with_its_own_keys(env):
    """The first day's tickets have no topic or reopen_count, the second day's lines have one
    each, the third file is cp1251 (a Cyrillic customer id): every key of every file loads."""
    con, landing, rejected = env

    def ticket(ticket_id, day, customer_id="C1", **extra):
        return {
            "ticket_id": ticket_id,
            "customer_id": customer_id,
            "opened_at": f"2025-03-{day}T09:00:00",
            "updated_at": f"2025-03-{day}T09:00:00",
            "status": "open",
            "category": "complaint",
            **extra,
        }

    days = (
        ("01", "utf-8", [ticket("T1", "01")]),
        ("02", "utf-8", [ticket("T2", "02", topic="price"), ticket("T3", "02", reopen_count=2)]),
        ("03", "cp1251", [ticket("T4", "03", customer_id="К-1", topic="service")]),
    )
    for day, encoding, tickets in days:
        body = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tickets)
        put(landing, TICKETS, f"tickets_2025-03-{day}.jsonl", body.encode(encoding))
    results = loader.load_landing(con, landing, rejected, [TICKETS])["support_tickets"]
    assert [(r.status, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("loaded", 1, 0),
        ("loaded", 2, 0),
        ("loaded", 1, 0),
    ]
    assert rows(
        con,
        "select ticket_id, customer_id, topic, reopen_count from raw.support_tickets order by 1",
    ) == [
        ("T1", "C1", None, None),
        ("T2", "C1", "price", None),
        ("T3", "C1", None, 2),
        ("T4", "К-1", "service", None),
    ]


def test_corrected_redelivery_loads_normally(env):
    con, landing, rejected = env
    put(
        landing,
        ORDERS,
        "orders.csv",
        ORDER_HEADER + "O1,C1,2025-01-01,2025-01-01,completed,EUR,five,0,web\n",
    )
    loader.load_landing(con, landing, rejected, [ORDERS])
    put(
        landing,
        ORDERS,
        "orders.csv",
        ORDER_HEADER + "O1,C1,2025-01-01,2025-01-01,completed,EUR,5,0,web\n",
    )
    (result,) = loader.load_landing(con, landing, rejected, [ORDERS])["orders_orders"]
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert rows(con, "select order_id, total_amount from raw.orders_orders") == [
        ("O1", Decimal("5.00"))
    ]


def test_loading_in_small_groups_gives_the_same_raw_tables(tmp_path, monkeypatch):
    """Years of history are checked in groups of about GROUP_ROWS rows (DuckDB's memory limit);
    where the groups are cut must not change what is loaded or quarantined."""
    from ingestion.demo.generator import generate

    landing = tmp_path / "landing"
    generate(landing, customers=80, days=20, seed=4, orders_format="parquet", dirty=0.02)

    def load(name: str, group_rows: int) -> duckdb.DuckDBPyConnection:
        monkeypatch.setattr(loader, "GROUP_ROWS", group_rows)
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        loader.load_landing(con, landing, tmp_path / f"rejected-{name}", validate=False)
        return con

    whole, split = load("whole", 10_000_000), load("split", 50)
    from ingestion import files
    from ingestion.contract import ORDERS

    sniffed = [(files.sniff(p), p.name) for p in loader.discover(landing, ORDERS)]
    assert len(loader._groups(sniffed, 10_000_000)) == 1
    assert len(loader._groups(sniffed, 50)) > 1  # the split run scanned several groups
    for table in ("orders_orders", "orders_order_lines", "crm_customers", "quarantine"):
        columns = (
            "* exclude (_batch_id, _loaded_at)"
            if table != "quarantine"
            else ("entity, source_file, row_number, line_number, reasons, record")
        )
        query = f"select {columns} from raw.{table} order by all"
        assert whole.execute(query).fetchall() == split.execute(query).fetchall(), table
    whole.close()
    split.close()
