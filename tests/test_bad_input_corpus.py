"""A corpus of bad files and bad rows, each with its expected outcome written down by hand.

Every case lands one file, loads it, and checks: the outcome (loaded / quarantined with the
listed reasons / rejected with the listed message); that rows read = rows loaded + rows
quarantined, in the ledger and in the result, and equal to the data rows written here (counted
by hand); that nothing is lost (a rejected file is kept byte for byte beside its `.reason`, a
loaded one stays in landing, every row is in raw or in quarantine); and that Great Expectations'
verdict on the batch reconciles with the SQL quarantine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from expectations import rules
from ingestion import loader
from ingestion.contract import CUSTOMERS, ORDER_LINES, ORDERS, TICKETS, Entity

ORDERS_H = (
    "order_id,customer_id,ordered_at,updated_at,status,currency,total_amount,"
    "discount_amount,sales_channel\n"
)
LINES_H = "order_id,line_number,product_id,category,quantity,unit_price,unit_cost\n"
TICKETS_H = (
    "ticket_id,customer_id,opened_at,first_response_at,closed_at,updated_at,status,category,"
    "topic,priority,satisfaction_score,reopen_count\n"
)
CUSTOMERS_H = (
    "customer_id,name,email,phone,company,created_at,updated_at,marketing_consent,do_not_contact\n"
)


def order(
    i,
    *,
    customer=None,
    ordered="2025-01-01 10:00:00",
    updated="2025-01-02 10:00:00",
    status="completed",
    total="10.00",
    sep=",",
) -> str:
    customer = f"C{i}" if customer is None else customer
    fields = [f"O{i}", customer, ordered, updated, status, "EUR", total, "0", "web"]
    return sep.join(fields) + "\n"


def orders(*numbers) -> str:
    return "".join(order(i) for i in numbers)


def line(order_id="O1", number="1", quantity="2", price="10.00") -> str:
    return f"{order_id},{number},SKU-1,Garden,{quantity},{price},4.00\n"


def ticket(
    i=1,
    *,
    opened="2025-01-02 10:00:00",
    first="2025-01-02 11:00:00",
    closed="2025-01-03 10:00:00",
    status="closed",
    satisfaction="5",
) -> str:
    return (
        f"T{i},C{i},{opened},{first},{closed},2025-01-03 10:00:00,{status},complaint,price,"
        f"normal,{satisfaction},0\n"
    )


def customer(i=1, *, name=None, email=None, consent="true", company="") -> str:
    name = f"Name {i}" if name is None else name
    email = f"c{i}@example.com" if email is None else email
    return (
        f"C{i},{name},{email},+44 20 7946 0000,{company},2025-01-01 10:00:00,"
        f"2025-01-02 10:00:00,{consent},false\n"
    )


ONE_ORDER = (ORDERS, "orders_before.csv", ORDERS_H + order(1))


@dataclass
class Case:
    id: str
    entity: Entity
    content: str | bytes
    written: int  # data rows written, counted by hand
    status: str = "loaded"  # loaded | rejected
    # (row number, line number, reasons) of every quarantined record, by hand.
    quarantine: list[tuple[int | None, int | None, list[str]]] = field(default_factory=list)
    reason: str | None = None  # a rejection's message starts with this
    read: int | None = None  # rows read, when not `written` (explained in the case)
    warn: dict[str, int] = field(default_factory=dict)  # GX warn-severity finds
    before: tuple = ()  # files loaded before the case's file: (entity, name, content)
    check: Callable | None = None  # further assertions on what loaded
    name: str = ""

    def file_name(self) -> str:
        suffix = ".jsonl" if self.entity is TICKETS and self.id.endswith("json") else ".csv"
        return self.name or f"{self.id}{suffix}"


def values(con, sql):
    return con.execute(sql).fetchall()


CASES = [
    # ------------------------------------------------------------------- batch rejections
    Case(
        "missing_required_column",
        ORDERS,
        "order_id,customer_id,ordered_at,updated_at,status,currency\n"
        "O1,C1,2025-01-01,2025-01-01,completed,EUR\n",
        written=1,
        status="rejected",
        reason="missing required columns: total_amount",
    ),
    Case("empty_file", ORDERS, b"", written=0, status="rejected", reason="empty file (0 bytes)"),
    Case(
        "wrong_delimiter",
        ORDERS,
        ORDERS_H.replace(",", "|") + order(1, sep="|"),
        written=1,
        status="rejected",
        reason="no delimiter found in the header line",
    ),
    Case(
        # A UTF-8 row (И is D0 98; 0x98 means nothing in cp1251) beside a cp1251 row: the file
        # is neither encoding as a whole.
        "mixed_encodings",
        CUSTOMERS,
        CUSTOMERS_H.encode()
        + customer(1, name="Иван Петров").encode("utf-8")
        + customer(2, name="Пётр Иванов").encode("cp1251"),
        written=2,
        status="rejected",
        reason="text is neither UTF-8 nor cp1251",
    ),
    Case(
        "binary_content",
        ORDERS,
        b"PK\x03\x04\x00\x00xlsx pretending to be csv",
        written=0,
        status="rejected",
        reason="binary content (NUL bytes)",
    ),
    Case(
        # 2 of 10 rows repeat a key already in the file: 20% > the 5% batch threshold.
        "duplicate_keys_above_threshold",
        ORDERS,
        ORDERS_H + orders(1, 2, 3, 4, 5, 6, 7, 8) + order(1) + order(2, total="99.00"),
        written=10,
        status="rejected",
        reason="duplicate_key on 2 of 10 rows (20.0%), more than the batch threshold of 5%",
    ),
    Case(
        # One repeated row is a row problem, even in a tiny file (50% of its rows): the batch
        # rule needs at least 2 such rows. The later version loads.
        "one_repeated_key_in_a_tiny_file",
        TICKETS,
        TICKETS_H + ticket(1, status="open", closed="") + ticket(1),
        written=2,
        quarantine=[(1, None, ["duplicate_key"])],
        check=lambda con: values(con, "select status from raw.support_tickets") == [("closed",)],
    ),
    # --------------------------------------------------------------- files that just load
    Case(
        "extra_unknown_column",
        ORDERS,
        ORDERS_H.replace("\n", ",loyalty_tier\n")
        + order(1).replace("\n", ",gold\n")
        + order(2).replace("\n", ",silver\n"),
        written=2,
    ),
    Case("header_only", ORDERS, ORDERS_H, written=0),
    Case(
        "bom_crlf_and_header_variants",
        ORDERS,
        "\ufeff" + " Order ID ,Customer-ID,ORDERED AT,updated at,Status,Currency,Total Amount,"
        "discount amount,sales channel\r\n" + (order(1) + order(2)).replace("\n", "\r\n"),
        written=2,
    ),
    Case(
        "same_key_in_two_files",
        ORDERS,
        ORDERS_H + order(1, updated="2025-01-03 10:00:00"),
        written=1,
        before=((ORDERS, "orders_a.csv", ORDERS_H + order(1, status="pending")),),
        # Both versions are kept in raw (append-only); staging picks the latest.
        check=lambda con: (
            values(
                con, "select status from raw.orders_orders where order_id = 'O1' order by _batch_id"
            )
            == [("pending",), ("completed",)]
        ),
    ),
    Case(
        "emoji_and_cyrillic_names",
        CUSTOMERS,
        CUSTOMERS_H
        + customer(1, name="Ёлкина Анна 🎄", company='"ООО ""Ёж"" 🦔"')
        + customer(2, name="Zoë Ωmega 😀"),
        written=2,
        check=lambda con: (
            values(con, "select name, company from raw.crm_customers order by 1")
            == [("Zoë Ωmega 😀", None), ("Ёлкина Анна 🎄", 'ООО "Ёж" 🦔')]
        ),
    ),
    Case(
        "very_long_strings",
        CUSTOMERS,
        CUSTOMERS_H + customer(1, name="A" * 100_000, company="Б" * 300_000),
        written=1,
        check=lambda con: (
            values(con, "select length(name), length(company) from raw.crm_customers")
            == [(100_000, 300_000)]
        ),
    ),
    Case(
        # In a `;` file the comma is the decimal mark; a dot still reads as one.
        "decimal_comma_and_dot_in_semicolon_file",
        ORDERS,
        ORDERS_H.replace(",", ";")
        + order(1, total="12,50", sep=";")
        + order(2, total="12.50", sep=";"),
        written=2,
        check=lambda con: (
            values(con, "select total_amount from raw.orders_orders")
            == [(Decimal("12.50"),), (Decimal("12.50"),)]
        ),
    ),
    Case(
        # A line of an order nobody has delivered: loaded (the header may come late) and
        # reported by GX as unknown_order (warn).
        "order_line_for_unknown_order",
        ORDER_LINES,
        LINES_H + line("O1") + line("O404"),
        written=2,
        before=(ONE_ORDER,),
        warn={"unknown_order": 1},
    ),
    Case(
        # A typo'd e-mail must not lose a customer: loaded, reported (warn).
        "malformed_email",
        CUSTOMERS,
        CUSTOMERS_H + customer(1) + customer(2, email="ivan.example.com"),
        written=2,
        warn={"format:email": 1},
        check=lambda con: (
            values(con, "select email from raw.crm_customers where customer_id='C2'")
            == [("ivan.example.com",)]
        ),
    ),
    # ------------------------------------------------------------------- row quarantines
    Case(
        "null_key",
        ORDERS,
        ORDERS_H + order(1) + order(2).replace("O2,", ",", 1),
        written=2,
        quarantine=[(2, None, ["missing:order_id"])],
    ),
    Case(
        "blank_required_field",
        CUSTOMERS,
        CUSTOMERS_H + customer(1) + customer(2, name="  "),
        written=2,
        quarantine=[(2, None, ["missing:name"])],
    ),
    Case(
        # Same key, different content: the later row is the truth, the earlier is held back.
        "duplicate_key_changed_within_file",
        ORDERS,
        ORDERS_H + orders(*range(1, 21)) + order(5, total="99.00"),
        written=21,
        quarantine=[(5, None, ["duplicate_key"])],
        check=lambda con: (
            values(
                con, "select total_amount, _row_number from raw.orders_orders where order_id = 'O5'"
            )
            == [(Decimal("99.00"), 21)]
        ),
    ),
    Case(
        # The same row twice: the first stays, the copy is held back.
        "exact_duplicate_row",
        ORDERS,
        ORDERS_H + orders(*range(1, 21)) + order(3),
        written=21,
        quarantine=[(21, None, ["duplicate_key"])],
    ),
    Case(
        "negative_amount",
        ORDERS,
        ORDERS_H + order(1) + order(2, total="-5.00"),
        written=2,
        quarantine=[(2, None, ["negative:total_amount"])],
    ),
    Case(
        "zero_quantity",
        ORDER_LINES,
        LINES_H + line(number="1") + line(number="2", quantity="0"),
        written=2,
        before=(ONE_ORDER,),
        quarantine=[(2, None, ["range:quantity"])],
    ),
    Case(
        "unparseable_date",
        ORDERS,
        ORDERS_H + order(1) + order(2, ordered="yesterday"),
        written=2,
        quarantine=[(2, None, ["type:ordered_at"])],
    ),
    Case(
        "date_in_the_future",
        ORDERS,
        ORDERS_H + order(1) + order(2, updated="2099-01-01 00:00:00"),
        written=2,
        quarantine=[(2, None, ["future:updated_at"])],
    ),
    Case(
        "date_before_the_floor",
        ORDERS,
        ORDERS_H + order(1) + order(2, ordered="1999-12-31 23:59:59"),
        written=2,
        quarantine=[(2, None, ["range:ordered_at"])],
    ),
    Case(
        # Decision (CONTRACT.md): a spreadsheet serial day number is not a date; which epoch
        # (1900 or 1904) is a guess, so it is a type error, not 2025-01-21.
        "excel_serial_date",
        ORDERS,
        ORDERS_H + order(1) + order(2, ordered="45678"),
        written=2,
        quarantine=[(2, None, ["type:ordered_at"])],
    ),
    Case(
        "closed_before_opened",
        TICKETS,
        TICKETS_H + ticket(1) + ticket(2, first="", closed="2025-01-01 10:00:00"),
        written=2,
        quarantine=[(2, None, ["order:opened_at_before_closed_at"])],
    ),
    Case(
        "first_response_before_opened",
        TICKETS,
        TICKETS_H + ticket(1) + ticket(2, first="2025-01-02 09:59:59"),
        written=2,
        quarantine=[(2, None, ["order:opened_at_before_first_response_at"])],
    ),
    Case(
        "satisfaction_7",
        TICKETS,
        TICKETS_H + ticket(1) + ticket(2, satisfaction="7"),
        written=2,
        quarantine=[(2, None, ["range:satisfaction_score"])],
    ),
    Case(
        "unknown_status",
        ORDERS,
        ORDERS_H + order(1) + order(2, status="Shipped"),
        written=2,
        quarantine=[(2, None, ["allowed:status"])],
    ),
    Case(
        # Every rule a row breaks is listed, in the suite's (contract column) order.
        "several_problems_in_one_row",
        ORDERS,
        ORDERS_H + order(1) + order(2, customer="", status="bogus", total="-1"),
        written=2,
        quarantine=[(2, None, ["missing:customer_id", "allowed:status", "negative:total_amount"])],
    ),
    Case(
        "numeric_overflow",
        ORDERS,
        ORDERS_H + order(1) + order(2, total="12345678901234567890.00"),
        written=2,
        quarantine=[(2, None, ["type:total_amount"])],
    ),
    Case(
        "integer_overflow",
        ORDER_LINES,
        LINES_H + line(number="1") + line(number="99999999999"),
        written=2,
        before=(ONE_ORDER,),
        quarantine=[(2, None, ["type:line_number"])],
    ),
    Case(
        # A cast alone would round 1.5 to line 2.
        "fractional_line_number",
        ORDER_LINES,
        LINES_H + line(number="1") + line(number="1.5"),
        written=2,
        before=(ONE_ORDER,),
        quarantine=[(2, None, ["type:line_number"])],
    ),
    Case(
        # In a `,` file the comma cannot be a decimal mark: "12,50" is not a number.
        "decimal_comma_in_comma_file",
        ORDERS,
        ORDERS_H + order(1) + order(2, total='"12,50"'),
        written=2,
        quarantine=[(2, None, ["type:total_amount"])],
    ),
    Case(
        # `1 234,50` (space, no-break space) is a thousands separator in a `;` file;
        # `1.234,50` is not read (a dot is a decimal mark here too): type error.
        "thousands_separators_in_semicolon_file",
        ORDERS,
        ORDERS_H.replace(",", ";")
        + order(1, total="1 234,50", sep=";")
        + order(2, total="1\u00a0234,50", sep=";")
        + order(3, total="1.234,50", sep=";"),
        written=3,
        quarantine=[(3, None, ["type:total_amount"])],
        check=lambda con: (
            values(con, "select total_amount from raw.orders_orders")
            == [(Decimal("1234.50"),), (Decimal("1234.50"),)]
        ),
    ),
    Case(
        "thousands_separator_in_comma_file",
        ORDERS,
        ORDERS_H + order(1) + order(2, total='"1,234.50"'),
        written=2,
        quarantine=[(2, None, ["type:total_amount"])],
    ),
    Case(
        "boolean_maybe",
        CUSTOMERS,
        CUSTOMERS_H + customer(1) + customer(2, consent="maybe"),
        written=2,
        quarantine=[(2, None, ["type:marketing_consent"])],
    ),
    # ------------------------------------------------------ lines the parser cannot split
    Case(
        # Cut off mid-row, no final newline: the last line has 3 of 9 fields.
        "truncated_last_line",
        ORDERS,
        ORDERS_H + orders(1, 2) + "O3,C3,2025-01-0",
        written=3,
        quarantine=[(None, 4, ["parse:missing_columns"])],
    ),
    Case(
        "unbalanced_quote_on_last_row",
        ORDERS,
        ORDERS_H + orders(1, 2) + order(3, customer='"C3'),
        written=3,
        quarantine=[(None, 4, ["parse:unquoted_value"])],
    ),
    Case(
        # An opened quote never closed swallows the rest of the file into one field: one
        # broken record from line 3 to the end, its text kept in quarantine. 4 rows written,
        # 2 records read.
        "unbalanced_quote_mid_file",
        ORDERS,
        ORDERS_H + order(1) + order(2, customer='"C2') + orders(3, 4),
        written=4,
        read=2,
        quarantine=[(None, 3, ["parse:unquoted_value"])],
        check=lambda con: "O4,C4" in values(con, "select record from raw.quarantine")[0][0],
    ),
    Case(
        "invalid_json_line",
        TICKETS,
        '{"ticket_id": "T1", "customer_id": "C1", "opened_at": "2025-01-02T10:00:00", '
        '"updated_at": "2025-01-02T10:00:00", "status": "open", "category": "question"}\n'
        '{"ticket_id": "T2", "customer_id": "C2", "opened_at": \n',
        written=2,
        quarantine=[(2, None, ["parse:invalid_json"])],
        name="invalid_json_line.jsonl",
    ),
]


def put(landing: Path, entity: Entity, name: str, content: str | bytes) -> Path:
    folder = landing / entity.source / entity.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_the_corpus_is_large_and_distinct():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path):
    landing, rejected = tmp_path / "landing", tmp_path / "rejected"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for entity, name, content in case.before:
        put(landing, entity, name, content)
        loader.load_landing(con, landing, rejected, [entity])
    path = put(landing, case.entity, case.file_name(), case.content)
    original = path.read_bytes()
    label = path.relative_to(landing).as_posix()

    results = loader.load_landing(con, landing, rejected, [case.entity])[case.entity.table]
    (result,) = [r for r in results if r.source_file == label]
    ledger = con.execute(
        "select status, reason, rows_read, rows_loaded, rows_quarantined, batch_id "
        "from raw.load_ledger where source_file = ?",
        [label],
    ).fetchall()
    assert len(ledger) == 1
    status, reason, read, loaded, quarantined, batch_id = ledger[0]
    assert (status, result.status) == (case.status, case.status)
    assert read == loaded + quarantined
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        read,
        loaded,
        quarantined,
    )
    in_raw = con.execute(
        f"select count(*) from raw.{case.entity.table} where _source_file = ?", [label]
    ).fetchone()[0]
    held = con.execute(
        "select row_number, line_number, reasons from raw.quarantine where source_file = ? "
        "order by coalesce(row_number, line_number)",
        [label],
    ).fetchall()

    if case.status == "rejected":
        # Nothing of the file is loaded or quarantined; the file is kept whole with its reason.
        assert reason.startswith(case.reason) and result.reason == reason
        assert (read, loaded, quarantined, in_raw, held) == (0, 0, 0, 0, [])
        assert not path.exists()
        kept = rejected / case.entity.source / case.entity.name / path.name
        assert kept.read_bytes() == original
        why = kept.with_name(kept.name + ".reason").read_text(encoding="utf-8")
        assert why.splitlines()[0] == reason
        return

    expected_read = case.written if case.read is None else case.read
    assert read == expected_read
    assert quarantined == len(case.quarantine)
    assert loaded == expected_read - len(case.quarantine) == in_raw
    assert [(r, ln, list(reasons)) for r, ln, reasons in held] == case.quarantine
    assert path.exists()  # a loaded file stays where it was
    if case.check is not None:
        assert case.check(con)

    # GX validated the batch on its own and agrees with the SQL quarantine, rule by rule.
    verdicts = con.execute(
        "select reason, severity, unexpected_count, reconciled, error "
        "from raw.batch_validation where batch_id = ?",
        [batch_id],
    ).fetchall()
    assert len(verdicts) == len(rules.load_suite(case.entity).rules)
    assert all(reconciled for _, _, _, reconciled, _ in verdicts), verdicts
    warned = {r: n for r, severity, n, _, _ in verdicts if severity == "warn" and n}
    assert warned == case.warn
    by_reason: dict[str, int] = {}
    for _, _, reasons in case.quarantine:
        for r in reasons:
            by_reason[r] = by_reason.get(r, 0) + 1
    gx_found = {
        r: n
        for r, severity, n, _, _ in verdicts
        if severity == "quarantine" and n and r != "duplicate_key"
    }
    assert gx_found == {r: n for r, n in by_reason.items() if not r.startswith(("parse:", "dup"))}
    # GX counts every row of a repeated key (here pairs); the quarantine holds all but one.
    gx_duplicates = {r: n for r, _, n, _, _ in verdicts}["duplicate_key"]
    assert gx_duplicates == 2 * by_reason.get("duplicate_key", 0)


def test_loaded_values_of_a_clean_case_are_exact(tmp_path):
    """The reference row the corpus mutates loads exactly as written."""
    landing = tmp_path / "landing"
    put(landing, ORDERS, "orders.csv", ORDERS_H + order(1))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loader.load_landing(con, landing, tmp_path / "rejected", [ORDERS])
    assert values(
        con,
        "select order_id, customer_id, ordered_at, updated_at, status, currency, total_amount, "
        "discount_amount, sales_channel from raw.orders_orders",
    ) == [
        (
            "O1",
            "C1",
            datetime(2025, 1, 1, 10),
            datetime(2025, 1, 2, 10),
            "completed",
            "EUR",
            Decimal("10.00"),
            Decimal("0.00"),
            "web",
        )
    ]
