"""The demo generator: file layout and formats per the contract, and believable behaviour.

Every check re-reads the written files (csv module, json, DuckDB) and recomputes what it asserts.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import contract
from ingestion.demo import generate, simulate
from ingestion.demo.names import companies, people

END = date(2026, 10, 31)
FILE_RE = re.compile(r"^(?P<name>[a-z_]+)_(?P<day>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|parquet|jsonl)$")


def _files(out: Path, entity: contract.Entity) -> list[Path]:
    return sorted((out / entity.source / entity.name).iterdir())


def _day(path: Path) -> date:
    return date.fromisoformat(FILE_RE.match(path.name)["day"])


def _read_csv(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


def _all_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mid(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A mid-size English run for the behavioural checks."""
    out = tmp_path_factory.mktemp("mid")
    return out, generate(out, customers=5_000, days=730, end_date=END, seed=7, chunk_size=2_000)


@pytest.fixture(scope="module")
def db(mid) -> duckdb.DuckDBPyConnection:
    """The mid run loaded as text (latest version per key in the `*_now` views)."""
    out, _ = mid
    con = duckdb.connect()
    for e in contract.ENTITIES:
        con.execute(
            f"CREATE TABLE {e.table} AS SELECT * FROM read_csv('{out}/{e.source}/{e.name}/*.csv', "
            "header=true, all_varchar=true, filename=true)"
        )
        if e.version_column:
            con.execute(
                f"CREATE VIEW {e.table}_now AS SELECT * FROM {e.table} QUALIFY row_number() "
                f"OVER (PARTITION BY {', '.join(e.key)} ORDER BY {e.version_column} DESC) = 1"
            )
    con.execute(f"CREATE TABLE truth AS SELECT * FROM '{out}/_truth/customers_truth.parquet'")
    return con


def test_same_parameters_give_identical_files(tmp_path):
    for fmt in (
        dict(locale="en"),
        dict(locale="ru", orders_format="parquet", tickets_format="jsonl"),
    ):
        a, b = tmp_path / f"a_{fmt['locale']}", tmp_path / f"b_{fmt['locale']}"
        generate(a, customers=400, days=150, end_date=END, seed=3, chunk_size=150, **fmt)
        generate(b, customers=400, days=150, end_date=END, seed=3, chunk_size=150, **fmt)
        files_a, files_b = _all_bytes(a), _all_bytes(b)
        assert files_a.keys() == files_b.keys()
        assert all(files_a[k] == files_b[k] for k in files_a)
    c = tmp_path / "c"
    generate(c, customers=400, days=150, end_date=END, seed=4, chunk_size=150)
    assert _all_bytes(c) != _all_bytes(tmp_path / "a_en")


@pytest.mark.parametrize(
    "fmt",
    [
        dict(locale="en", orders_format="csv", tickets_format="csv"),
        dict(locale="en", orders_format="parquet", tickets_format="jsonl"),
    ],
)
def test_layout_headers_and_counts(tmp_path, fmt):
    days = 120
    counts = generate(tmp_path, customers=300, days=days, end_date=END, seed=1, **fmt)
    first = END - timedelta(days=days - 1)
    ext = {"orders": fmt["orders_format"], "support": fmt["tickets_format"]}
    assert {p.name for p in tmp_path.iterdir()} == {"crm", "orders", "support", "_truth"}
    for e in contract.ENTITIES:
        files = _files(tmp_path, e)
        assert files, e.table
        rows = 0
        for path in files:
            m = FILE_RE.match(path.name)
            assert m and m["name"] == e.name and m["ext"] == ext.get(e.source, "csv"), path
            assert first <= _day(path) <= END
            if m["ext"] == "csv":
                header, *body = _read_csv(path)
                assert header == e.column_names
                assert all(len(r) == len(header) for r in body)
            elif m["ext"] == "parquet":
                body = pq.read_table(path)
                assert body.column_names == e.column_names
                for c in e.columns:  # typed, not text
                    kind = body.schema.field(c.name).type
                    assert not c.type.startswith("TIMESTAMP") or pa.types.is_timestamp(kind)
                    assert not c.type.startswith("DECIMAL") or pa.types.is_decimal(kind)
                body = range(body.num_rows)
            else:
                body = [json.loads(line) for line in path.read_text().splitlines()]
                assert all(list(r) == e.column_names for r in body)
            assert body, path
            rows += len(body)
        assert counts[e.table] == rows
    manifest = json.loads((tmp_path / "_truth" / "manifest.json").read_text())
    assert manifest["rows"] == counts
    truth = pq.read_table(tmp_path / "_truth" / "customers_truth.parquet")
    assert truth.num_rows == 300
    assert {
        "customer_id",
        "tier",
        "purchase_rate_per_day",
        "dropout_prob",
        "mean_spend",
        "dropout_at",
        "never_ordered",
    } <= set(truth.column_names)


def test_files_hold_the_changes_of_their_day(tmp_path):
    generate(
        tmp_path,
        customers=300,
        days=120,
        end_date=END,
        seed=2,
        orders_format="parquet",
        tickets_format="jsonl",
    )
    for e in contract.ENTITIES:
        stamp = "occurred_at" if e is contract.ACTIVITIES else e.version_column
        if stamp is None:
            continue
        for path in _files(tmp_path, e):
            if path.suffix == ".csv":
                header, *body = _read_csv(path)
                values = [r[header.index(stamp)] for r in body]
            elif path.suffix == ".parquet":
                values = [str(v) for v in pq.read_table(path).column(stamp).to_pylist()]
            else:
                values = [json.loads(line)[stamp] for line in path.read_text().splitlines()]
            assert {v[:10] for v in values} == {_day(path).isoformat()}, path
            assert values == sorted(values), path


def test_russian_exports(tmp_path):
    generate(tmp_path, customers=800, days=200, end_date=END, seed=5, locale="ru")
    cust_files = _files(tmp_path, contract.CUSTOMERS)
    raw = b"".join(p.read_bytes() for p in cust_files)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    customers = [row for p in cust_files for row in _read_csv(p, "cp1251", ";")[1:]]
    cols = contract.CUSTOMERS.column_names
    assert all(len(r) == len(cols) for r in customers)
    col = {c: [r[cols.index(c)] for r in customers] for c in cols}
    assert all(
        re.fullmatch(r"[А-ЯЁ][а-яё-]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+(вич|вна|ич|чна)", n)
        for n in col["name"]
    )
    assert {"Москва", "Санкт-Петербург", "Казань"} <= set(col["city"])
    assert set(col["country"]) == {"RU"}
    assert set(col["marketing_consent"]) == {"да", "нет"}
    assert all(re.fullmatch(r"\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}", v) for v in col["updated_at"])
    assert sum(
        re.fullmatch(r"\+7 \(\d{3}\) \d{3}-\d{2}-\d{2}", p) is not None for p in col["phone"]
    ) > 0.5 * len(customers)
    firms = [c for c in col["company"] if c]
    assert any('"' in c for c in firms)
    assert any(";" in c for c in firms)  # survived the `;` separator thanks to quoting

    orders = [
        row for p in _files(tmp_path, contract.ORDERS) for row in _read_csv(p, "cp1251", ";")[1:]
    ]
    names = contract.ORDERS.column_names
    assert all(re.fullmatch(r"\d+,\d{2}", r[names.index("total_amount")]) for r in orders)
    assert {r[names.index("currency")] for r in orders} == {"RUB"}
    assert {r[names.index("status")] for r in orders} <= set(contract.ORDER_STATUSES)
    lines = [
        row
        for p in _files(tmp_path, contract.ORDER_LINES)
        for row in _read_csv(p, "cp1251", ";")[1:]
    ]
    categories = {r[contract.ORDER_LINES.column_names.index("category")] for r in lines}
    assert any(re.search("[а-я]", c) for c in categories)
    # Roubles: a typical order is worth tens of euros, i.e. thousands of roubles.
    totals = [float(r[names.index("total_amount")].replace(",", ".")) for r in orders]
    assert 1_000 < float(np.median(totals)) < 20_000

    # The helpdesk export stays UTF-8 with the contract's layout.
    tickets = _files(tmp_path, contract.TICKETS)
    assert _read_csv(tickets[0])[0] == contract.TICKETS.column_names


def test_company_names_carry_quoting_hazards():
    rng = np.random.default_rng(0)
    for locale in ("en", "ru"):
        names, _ = people(rng, 50_000, locale)
        firms = companies(rng, names, locale)
        newline = sum("\n" in f for f in firms) / len(firms)
        assert 0.0003 < newline < 0.003
        if locale == "ru":
            "".join(firms).encode("cp1251")
            assert 0.01 < sum(";" in f for f in firms) / len(firms) < 0.06


def test_quoted_fields_survive_the_export(tmp_path, monkeypatch):
    """Quotes, separators and line breaks inside a field come back as one field."""
    tricky = 'ООО "Ромашка"; склад\nюр. адрес: г. Москва'
    monkeypatch.setattr(
        simulate.names, "companies", lambda rng, names, locale: [tricky] * len(names)
    )
    generate(tmp_path, customers=300, days=60, end_date=END, seed=9, locale="ru")
    cols = contract.CUSTOMERS.column_names
    rows = [
        r for p in _files(tmp_path, contract.CUSTOMERS) for r in _read_csv(p, "cp1251", ";")[1:]
    ]
    firms = {r[cols.index("company")] for r in rows if len(r) == len(cols)}
    assert len(rows) > 300 and all(len(r) == len(cols) for r in rows)
    assert firms == {tricky, ""}


def test_pareto_revenue(db):
    share = db.execute("""
        WITH revenue AS (
            SELECT t.customer_id,
                   coalesce(sum(o.total_amount::DECIMAL(18,2))
                            FILTER (WHERE o.status = 'completed'), 0) AS rev
            FROM truth t LEFT JOIN orders_orders_now o USING (customer_id) GROUP BY 1),
        ranked AS (SELECT rev, row_number() OVER (ORDER BY rev DESC) AS rk FROM revenue)
        SELECT sum(rev) FILTER (WHERE rk <= (SELECT count(*) FROM revenue) / 5) / sum(rev)
        FROM ranked""").fetchone()[0]
    assert 0.68 <= float(share) <= 0.82


def test_order_volume_and_status_mix(db, mid):
    _, counts = mid
    orders, customers = db.execute(
        "SELECT count(*), (SELECT count(*) FROM truth) FROM orders_orders_now"
    ).fetchone()
    assert 7 <= orders / customers <= 13
    mix = dict(
        db.execute(
            "SELECT status, count(*) / sum(count(*)) OVER () FROM orders_orders_now GROUP BY 1"
        ).fetchall()
    )
    assert 0.85 <= mix["completed"] <= 0.95
    assert 0.03 <= mix["cancelled"] <= 0.07
    assert 0.025 <= mix["returned"] <= 0.06
    assert mix.get("pending", 0) < 0.01
    first_pending = db.execute("""
        SELECT avg((status = 'pending')::INT) FROM (
            SELECT status FROM orders_orders
            QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at) = 1)
        """).fetchone()[0]
    assert 0.25 <= first_pending <= 0.35
    lines_per_order = db.execute(
        "SELECT count(DISTINCT (order_id, line_number)) / count(DISTINCT order_id) "
        "FROM orders_order_lines"
    ).fetchone()[0]
    assert 2.2 <= lines_per_order <= 2.8
    assert counts["orders_orders"] > orders  # status changes are extra rows


def test_orders_change_across_daily_files(db):
    stats = db.execute("""
        SELECT count(*) FILTER (WHERE files > 1) / count(*),
               count(*) FILTER (WHERE ordered_at_values > 1),
               count(*) FILTER (WHERE files <> versions)
        FROM (SELECT order_id, count(DISTINCT filename) AS files, count(*) AS versions,
                     count(DISTINCT ordered_at) AS ordered_at_values
              FROM orders_orders GROUP BY 1)""").fetchone()
    assert 0.25 <= stats[0] <= 0.5  # pending->completed, cancellations, returns
    assert stats[1] == 0 and stats[2] == 0  # one row per order per daily file
    returns = db.execute("""
        SELECT min(datediff('day', ordered_at::TIMESTAMP, updated_at::TIMESTAMP)),
               max(datediff('day', ordered_at::TIMESTAMP, updated_at::TIMESTAMP))
        FROM orders_orders WHERE status = 'returned'""").fetchone()
    assert returns[0] >= 3 and returns[1] <= 24


def test_lines_sum_to_order_totals(db):
    lines = db.execute("""
        SELECT o.filename, o.order_id, o.total_amount, o.discount_amount,
               list(l.quantity || '*' || l.unit_price)
        FROM orders_orders o
        JOIN orders_order_lines l
          ON l.order_id = o.order_id
         AND replace(l.filename, 'order_lines', 'orders') = o.filename
        GROUP BY ALL""").fetchall()
    assert len(lines) == db.execute("SELECT count(*) FROM orders_orders").fetchone()[0]
    cent = Decimal("0.01")
    for _, _, total, discount, parts in lines:
        gross = sum(Decimal(q) * Decimal(p) for q, p in (x.split("*") for x in parts))
        assert gross.quantize(cent, ROUND_HALF_UP) - Decimal(discount) == Decimal(total)
    margin = db.execute("""
        SELECT min(1 - unit_cost::DOUBLE / unit_price::DOUBLE),
               max(1 - unit_cost::DOUBLE / unit_price::DOUBLE)
        FROM orders_order_lines""").fetchone()
    assert margin[0] >= 0.15 and margin[1] <= 0.65
    discounted = db.execute(
        "SELECT avg((discount_amount::DOUBLE > 0)::INT) FROM orders_orders_now"
    ).fetchone()[0]
    assert 0.15 <= discounted <= 0.25


def test_complaints_precede_dropout(db):
    rows = db.execute("""
        WITH c AS (SELECT customer_id, min(opened_at::TIMESTAMP) AS first_complaint
                   FROM support_tickets_now WHERE category IN ('complaint', 'cancellation')
                   GROUP BY 1)
        SELECT c.customer_id IS NOT NULL AS complained,
               avg((t.dropout_at IS NOT NULL)::INT) AS dropout_share,
               avg((c.first_complaint < t.dropout_at)::INT)
                 FILTER (WHERE t.dropout_at IS NOT NULL) AS complaint_first
        FROM truth t LEFT JOIN c USING (customer_id)
        WHERE NOT t.never_ordered GROUP BY 1""").fetchall()
    by = {r[0]: r for r in rows}
    assert by[True][1] > 2 * by[False][1]
    assert by[True][2] > 0.8
    # Most customers who dropped out complained first.
    dropped = db.execute("""
        SELECT avg((EXISTS (SELECT 1 FROM support_tickets_now k
                            WHERE k.customer_id = t.customer_id
                              AND k.category IN ('complaint', 'cancellation')
                              AND k.opened_at::TIMESTAMP < t.dropout_at))::INT)
        FROM truth t WHERE t.dropout_at IS NOT NULL""").fetchone()[0]
    assert dropped > 0.5


def test_ticket_mix_and_lifecycle(db):
    mix = dict(
        db.execute(
            "SELECT category, count(*) / sum(count(*)) OVER () FROM support_tickets_now GROUP BY 1"
        ).fetchall()
    )
    expected = {
        "question": 0.4,
        "request": 0.2,
        "incident": 0.15,
        "complaint": 0.2,
        "cancellation": 0.05,
    }
    assert all(abs(mix[k] - v) < 0.06 for k, v in expected.items()), mix
    bad = db.execute("""
        SELECT count(*) FROM support_tickets
        WHERE first_response_at::TIMESTAMP < opened_at::TIMESTAMP
           OR closed_at::TIMESTAMP < first_response_at::TIMESTAMP
           OR (status IN ('solved', 'closed')) <> (closed_at IS NOT NULL)
           OR (satisfaction_score IS NOT NULL AND status <> 'closed')""").fetchone()[0]
    assert bad == 0
    rated = db.execute(
        "SELECT avg((satisfaction_score IS NOT NULL)::INT) FROM "
        "support_tickets_now WHERE status = 'closed'"
    ).fetchone()[0]
    assert 0.5 <= rated <= 0.7


def test_contact_regulation(db):
    # Newsletters go only to customers who consented and may be contacted at that moment.
    wrong = db.execute("""
        SELECT count(*) FROM crm_activities a
        ASOF JOIN crm_customers c
          ON a.customer_id = c.customer_id
         AND a.occurred_at::TIMESTAMP >= c.updated_at::TIMESTAMP
        WHERE a.activity_type = 'newsletter'
          AND (c.marketing_consent <> 'true' OR c.do_not_contact <> 'false')""").fetchone()[0]
    assert wrong == 0
    per_tier = dict(
        db.execute("""
        SELECT t.tier, count(*) FILTER (WHERE a.activity_type = 'call')
                       / count(DISTINCT t.customer_id)
        FROM truth t LEFT JOIN crm_activities a USING (customer_id) GROUP BY 1""").fetchall()
    )
    assert per_tier["VIP"] > 5 * per_tier["A"] > per_tier["C"]
    answered = dict(
        db.execute("""
        SELECT c.preferred_channel = 'phone',
               avg((a.outcome = 'completed')::INT)
        FROM crm_activities a JOIN crm_customers_now c USING (customer_id)
        WHERE a.activity_type = 'call' AND a.direction = 'outbound' GROUP BY 1""").fetchall()
    )
    assert answered[True] > answered[False]


def test_customer_cards(db):
    now = db.execute("""
        SELECT avg((marketing_consent = 'true')::INT), avg((do_not_contact = 'true')::INT),
               avg((company IS NOT NULL)::INT), avg((acquisition_channel = 'referral')::INT),
               avg((preferred_channel = 'email')::INT)
        FROM crm_customers_now""").fetchone()
    assert 0.62 <= now[0] <= 0.78 and 0.015 <= now[1] <= 0.05 and 0.33 <= now[2] <= 0.47
    assert 0.09 <= now[3] <= 0.15 and 0.4 <= now[4] <= 0.5
    # Referrers are earlier customers.
    assert (
        db.execute("""
        SELECT count(*) FROM crm_customers_now c JOIN crm_customers_now r
          ON r.customer_id = c.referred_by_customer_id
        WHERE r.created_at::TIMESTAMP > c.created_at::TIMESTAMP""").fetchone()[0]
        == 0
    )
    changed = db.execute("""
        SELECT count(DISTINCT customer_id) / (SELECT count(*) FROM truth)
        FROM crm_customers WHERE updated_at > created_at""").fetchone()[0]
    assert 0.1 <= changed <= 0.25
    # A manager who leaves gets a new version, and their customers are handed over in days.
    left = db.execute(
        "SELECT manager_id FROM crm_managers_now WHERE is_active = 'false' "
        "AND updated_at::TIMESTAMP < ?",
        [datetime(2026, 10, 20)],
    ).fetchall()
    assert left
    assert (
        db.execute(
            "SELECT count(*) FROM crm_customers_now WHERE manager_id IN (SELECT unnest(?))",
            [[m for (m,) in left]],
        ).fetchone()[0]
        == 0
    )
    first_day = db.execute("SELECT min(filename) FROM crm_managers").fetchone()[0]
    assert (
        db.execute("SELECT count(*) FROM crm_managers WHERE filename = ?", [first_day]).fetchone()[
            0
        ]
        == 5_000 // 400
    )


def test_tiers_and_manager_books(db):
    shares = dict(
        db.execute("SELECT tier, count(*) / sum(count(*)) OVER () FROM truth GROUP BY 1").fetchall()
    )
    assert shares["VIP"] < 0.02 and 0.06 < shares["A"] < 0.12 and 0.15 < shares["B"] < 0.25
    value = dict(
        db.execute(
            "SELECT tier, median(purchase_rate_per_day * mean_spend) FROM truth GROUP BY 1"
        ).fetchall()
    )
    assert value["VIP"] > value["A"] > value["B"] > value["C"]
    flagged = dict(
        db.execute("""
        SELECT t.tier, avg((c.is_vip = 'true')::INT)
        FROM truth t JOIN crm_customers_now c USING (customer_id) GROUP BY 1""").fetchall()
    )
    assert 0.3 < flagged["VIP"] < 0.7 and flagged["C"] == 0
    # Key accounts (VIP/A) sit with managers whose books are small.
    books = db.execute("""
        WITH per_manager AS (
            SELECT c.manager_id, bool_or(t.tier IN ('VIP', 'A')) AS serves_keys, count(*) AS n
            FROM crm_customers_now c JOIN truth t USING (customer_id) GROUP BY 1)
        SELECT serves_keys, avg(n) FROM per_manager GROUP BY 1 ORDER BY 1""").fetchall()
    assert books[1][1] < 0.7 * books[0][1]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, customers=10, locale="de")
    with pytest.raises(ValueError):
        generate(tmp_path, customers=10, orders_format="xlsx")
    with pytest.raises(ValueError):
        generate(tmp_path, customers=10, tickets_format="xml")


def test_acquisition_grows(db):
    first, last = db.execute(
        """
        SELECT count(*) FILTER (WHERE created_at::TIMESTAMP < ?),
               count(*) FILTER (WHERE created_at::TIMESTAMP >= ?)
        FROM crm_customers_now""",
        [END - timedelta(days=700), END - timedelta(days=29)],
    ).fetchone()
    assert last > 1.5 * first


def test_generated_phones_are_valid_e164_for_their_country():
    """Ad platforms match on E.164: every demo phone, in any of its typed variants, must make
    one. Digits with the country code, by country (ITU national plans)."""
    import numpy as np

    from destinations.identifiers import normalize_phone
    from ingestion.demo import names

    e164_digits = {"IE": 12, "GB": 12, "NL": 11, "DE": 12, "FR": 11, "BE": 11, "ES": 11, "RU": 11}
    rng = np.random.default_rng(7)
    for country, digits in e164_digits.items():
        locale = "ru" if country == "RU" else "en"
        for phone in names.phones(rng, [country] * 200, locale):
            normalised = normalize_phone(phone, country)
            assert normalised is not None, (country, phone)
            assert len(normalised) == 1 + digits, (country, phone, normalised)
