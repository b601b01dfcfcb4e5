"""Russian-speaking SMB exports (cp1251, `;`, decimal commas, Cyrillic) load intact."""

import csv
import io
from datetime import date
from decimal import Decimal

import duckdb

from ingestion import loader
from ingestion.contract import CUSTOMERS, ORDERS
from ingestion.demo.generator import generate


def parse_cp1251(path) -> list[dict]:
    text = path.read_bytes().decode("cp1251")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def test_generated_ru_exports_load_with_nothing_lost(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, customers=150, days=60, end_date=date(2026, 10, 31), seed=9, locale="ru")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = loader.load_landing(con, landing, tmp_path / "rejected")
    statuses = {r.status for batch in results.values() for r in batch}
    assert statuses == {"loaded"}
    assert con.execute("select count(*) from raw.quarantine").fetchone() == (0,)
    # Every CRM and orders export is `;`-separated; those with Cyrillic are read as cp1251
    # (a file of plain ASCII is valid UTF-8 too, and reads the same either way).
    dialects = con.execute(
        "select split_part(entity, '.', 1), encoding, delimiter, count(*) from raw.load_ledger "
        "where entity <> 'support.tickets' group by all"
    ).fetchall()
    assert {delimiter for _, _, delimiter, _ in dialects} == {";"}
    assert {(source, encoding) for source, encoding, _, _ in dialects} >= {
        ("crm", "cp1251"),
        ("orders", "cp1251"),
    }

    # Money: the sum of every order version's total, parsed here from the decimal-comma text.
    order_rows = [r for p in loader.discover(landing, ORDERS) for r in parse_cp1251(p)]
    expected_total = sum(
        Decimal(r["total_amount"].replace(" ", "").replace(",", ".")) for r in order_rows
    )
    assert (
        con.execute("select sum(total_amount) from raw.orders_orders").fetchone()[0]
        == expected_total
    )
    assert {r["currency"] for r in order_rows} == {"RUB"}

    # Names arrive exactly as written, Cyrillic included.
    customer_rows = [r for p in loader.discover(landing, CUSTOMERS) for r in parse_cp1251(p)]
    loaded_names = {n for (n,) in con.execute("select name from raw.crm_customers").fetchall()}
    assert loaded_names == {r["name"] for r in customer_rows}
    assert any(any("а" <= ch <= "я" for ch in name.lower()) for name in loaded_names)
    con.close()
