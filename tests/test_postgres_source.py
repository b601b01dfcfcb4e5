"""The PostgreSQL CRM source against a real throwaway cluster (tests/pgcluster.py)."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ingestion.contract import ACTIVITIES, CUSTOMERS, MANAGERS
from ingestion.postgres_source import (
    MissingTableError,
    PostgresSourceError,
    export_tables,
    source_label,
)

pytestmark = pytest.mark.postgres

# Physical column order deliberately differs from the contract; `internal_note` and `salary`
# are not in the contract; managers lack the optional `email` column; `updated_at` of
# customers is timestamptz (exported as UTC wall-clock time), the rest plain timestamp.
DDL = """
CREATE SCHEMA crm;
CREATE TABLE crm.customers (
    internal_note text,
    updated_at timestamptz NOT NULL,
    customer_id text PRIMARY KEY,
    name text NOT NULL,
    email text,
    phone text,
    company text,
    created_at timestamp NOT NULL,
    manager_id text,
    acquisition_channel text,
    referred_by_customer_id text,
    preferred_channel text,
    marketing_consent boolean NOT NULL,
    do_not_contact boolean NOT NULL,
    city text,
    country char(2),
    is_vip boolean
);
CREATE TABLE crm.managers (
    manager_id text PRIMARY KEY,
    salary numeric(12, 2),
    name text NOT NULL,
    is_active boolean NOT NULL,
    updated_at timestamp
);
CREATE TABLE crm.activity_log (
    activity_id text PRIMARY KEY,
    customer_id text NOT NULL,
    manager_id text,
    activity_type text NOT NULL,
    occurred_at timestamp NOT NULL,
    direction text,
    outcome text
);
"""

CUSTOMER_COLUMNS = [
    "customer_id", "name", "email", "phone", "company", "created_at", "updated_at",
    "manager_id", "acquisition_channel", "referred_by_customer_id", "preferred_channel",
    "marketing_consent", "do_not_contact", "city", "country", "is_vip",
]  # fmt: skip
# Inserted out of key order; None is NULL. updated_at carries explicit offsets.
CUSTOMER_ROWS = [
    ("C003", "Мария Иванова", None, "+7 (999) 123-45-67", 'Фирма "Ромашка"',
     "2024-01-02 03:04:05", "2025-03-01 12:00:00+03", "M02", "referral", "C001", "phone",
     True, False, "Москва", "RU", None),
    ("C001", "Alice Smith", "alice@example.com", None, None,
     "2023-05-06 07:08:09.5", "2024-12-31 23:59:59+00", None, "organic", None, "email",
     False, True, "Berlin, Mitte", "DE", True),
    ("C002", "Пётр Сидоров", "petr@пример.рф", "8 800 555-35-35", "Строй\n2-й корпус",
     "2024-02-29 00:00:00", "2025-01-01 00:30:00+01", "M01", None, None, None,
     False, False, None, None, False),
]  # fmt: skip
# What the CSV must hold, key order, as PostgreSQL prints it ("" for NULL).
EXPECTED_CUSTOMERS = [
    {"customer_id": "C001", "name": "Alice Smith", "email": "alice@example.com", "phone": "",
     "company": "", "created_at": "2023-05-06 07:08:09.5", "updated_at": "2024-12-31 23:59:59",
     "manager_id": "", "acquisition_channel": "organic", "referred_by_customer_id": "",
     "preferred_channel": "email", "marketing_consent": "f", "do_not_contact": "t",
     "city": "Berlin, Mitte", "country": "DE", "is_vip": "t"},
    {"customer_id": "C002", "name": "Пётр Сидоров", "email": "petr@пример.рф",
     "phone": "8 800 555-35-35", "company": "Строй\n2-й корпус",
     "created_at": "2024-02-29 00:00:00",
     "updated_at": "2024-12-31 23:30:00", "manager_id": "M01", "acquisition_channel": "",
     "referred_by_customer_id": "", "preferred_channel": "", "marketing_consent": "f",
     "do_not_contact": "f", "city": "", "country": "", "is_vip": "f"},
    {"customer_id": "C003", "name": "Мария Иванова", "email": "", "phone": "+7 (999) 123-45-67",
     "company": 'Фирма "Ромашка"', "created_at": "2024-01-02 03:04:05",
     "updated_at": "2025-03-01 09:00:00", "manager_id": "M02", "acquisition_channel": "referral",
     "referred_by_customer_id": "C001", "preferred_channel": "phone", "marketing_consent": "t",
     "do_not_contact": "f", "city": "Москва", "country": "RU", "is_vip": ""},
]  # fmt: skip

MANAGER_ROWS = [
    ("M02", 1234.5, "Ольга Кузнецова", False, None),
    ("M01", None, "Иван Петров", True, "2025-02-03 10:11:12"),
]
EXPECTED_MANAGERS = [
    {"manager_id": "M01", "name": "Иван Петров", "is_active": "t",
     "updated_at": "2025-02-03 10:11:12"},
    {"manager_id": "M02", "name": "Ольга Кузнецова", "is_active": "f", "updated_at": ""},
]  # fmt: skip

ACTIVITY_ROWS = [
    ("A10", "C003", "M02", "call", "2025-03-02 14:00:00", "outbound", "no_answer"),
    ("A02", "C001", None, "newsletter", "2025-01-15 08:00:00", None, "opened"),
    ("A05", "C002", "M01", "meeting", "2025-02-10 16:45:30", "inbound", None),
]
EXPECTED_ACTIVITIES = [
    {"activity_id": "A02", "customer_id": "C001", "manager_id": "", "activity_type": "newsletter",
     "occurred_at": "2025-01-15 08:00:00", "direction": "", "outcome": "opened"},
    {"activity_id": "A05", "customer_id": "C002", "manager_id": "M01", "activity_type": "meeting",
     "occurred_at": "2025-02-10 16:45:30", "direction": "inbound", "outcome": ""},
    {"activity_id": "A10", "customer_id": "C003", "manager_id": "M02", "activity_type": "call",
     "occurred_at": "2025-03-02 14:00:00", "direction": "outbound", "outcome": "no_answer"},
]  # fmt: skip

TABLES = {"crm_activities": "activity_log"}


def make_crm_database(cluster) -> tuple[str, str]:
    """A fresh database holding the hand-written CRM; returns (dbname, dsn)."""
    dbname = f"crm_{uuid.uuid4().hex[:10]}"
    dsn = cluster.create_database(dbname)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A non-UTC database time zone must not leak into the export.
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET timezone TO 'Asia/Vladivostok'").format(
                sql.Identifier(dbname)
            )
        )
    with psycopg.connect(dsn) as conn:
        conn.execute(DDL)
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO crm.customers ({', '.join(CUSTOMER_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(CUSTOMER_COLUMNS))})",
                CUSTOMER_ROWS,
            )
            cur.executemany(
                "INSERT INTO crm.managers (manager_id, salary, name, is_active, updated_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                MANAGER_ROWS,
            )
            cur.executemany(
                "INSERT INTO crm.activity_log (activity_id, customer_id, manager_id, "
                "activity_type, occurred_at, direction, outcome) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                ACTIVITY_ROWS,
            )
    return dbname, dsn


@pytest.fixture(scope="module")
def crm_db(postgres_cluster):
    dbname, dsn = make_crm_database(postgres_cluster)
    yield dsn
    postgres_cluster.drop_database(dbname)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def test_exports_contract_columns_row_by_row(crm_db, tmp_path):
    result = export_tables(crm_db, tmp_path, tables=TABLES, schema="crm")

    assert [(e, p.name) for e, p in result] == [
        (CUSTOMERS, "crm_customers.csv"),
        (MANAGERS, "crm_managers.csv"),
        (ACTIVITIES, "crm_activities.csv"),
    ]
    assert all(p.parent == tmp_path for _, p in result)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crm_activities.csv",
        "crm_customers.csv",
        "crm_managers.csv",
    ]  # nothing else (no temp files left behind)

    header, rows = read_csv(tmp_path / "crm_customers.csv")
    assert header == CUSTOMERS.column_names  # contract order; extra column left out
    assert rows == EXPECTED_CUSTOMERS

    header, rows = read_csv(tmp_path / "crm_managers.csv")
    assert header == ["manager_id", "name", "is_active", "updated_at"]  # no email column
    assert rows == EXPECTED_MANAGERS

    header, rows = read_csv(tmp_path / "crm_activities.csv")
    assert header == ACTIVITIES.column_names
    assert rows == EXPECTED_ACTIVITIES


def test_csv_is_utf8_with_nulls_unquoted(crm_db, tmp_path):
    export_tables(crm_db, tmp_path, tables=TABLES, schema="crm")
    raw = (tmp_path / "crm_managers.csv").read_bytes()
    assert raw.decode("utf-8") == (
        "manager_id,name,is_active,updated_at\n"
        "M01,Иван Петров,t,2025-02-03 10:11:12\n"
        "M02,Ольга Кузнецова,f,\n"
    )
    text = (tmp_path / "crm_customers.csv").read_text(encoding="utf-8")
    assert '"Фирма ""Ромашка"""' in text  # quotes escaped the CSV way
    assert '"Строй\n2-й корпус"' in text  # embedded newline kept inside a quoted field


def test_unchanged_tables_export_byte_identical(postgres_cluster, tmp_path):
    dbname, dsn = make_crm_database(postgres_cluster)
    try:
        first = export_tables(dsn, tmp_path / "one", tables=TABLES, schema="crm")
        # Row order on disk changes (updates rewrite tuples); the export must not.
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE crm.customers SET name = name WHERE customer_id = 'C001'")
        second = export_tables(dsn, tmp_path / "two", tables=TABLES, schema="crm")
        for (ent1, p1), (ent2, p2) in zip(first, second, strict=True):
            assert ent1 is ent2
            assert p1.read_bytes() == p2.read_bytes(), ent1.qualified_name

        # Re-exporting into the same folder overwrites with the same bytes.
        again = export_tables(dsn, tmp_path / "one", tables=TABLES, schema="crm")
        assert [p.read_bytes() for _, p in again] == [p.read_bytes() for _, p in second]

        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE crm.managers SET is_active = false WHERE manager_id = 'M01'")
        changed = export_tables(dsn, tmp_path / "three", tables=TABLES, schema="crm")
        assert changed[1][1].read_bytes() != second[1][1].read_bytes()
        assert changed[0][1].read_bytes() == second[0][1].read_bytes()
    finally:
        postgres_cluster.drop_database(dbname)


def test_label_never_contains_the_password(postgres_cluster, crm_db, tmp_path):
    port = postgres_cluster.port
    dbname = conninfo_to_dict(crm_db)["dbname"]
    secret = "s3cr3t-P@ss"
    url_dsn = f"postgresql://postgres:s3cr3t-P%40ss@127.0.0.1:{port}/{dbname}"
    kw_dsn = f"host=127.0.0.1 port={port} dbname={dbname} user=postgres password='{secret}'"

    for dsn in (url_dsn, kw_dsn):
        label = source_label(dsn, "crm.customers")
        assert label == f"postgresql://127.0.0.1:{port}/{dbname}/crm.customers"
        assert "s3cr3t" not in label and "postgres@" not in label
    assert source_label(url_dsn, "customers") == (
        f"postgresql://127.0.0.1:{port}/{dbname}/public.customers"
    )
    assert source_label(url_dsn, "customers", schema="crm").endswith("/crm.customers")

    # The DSN with a password works (trust auth ignores it) and errors do not echo it.
    assert len(export_tables(url_dsn, tmp_path, tables=TABLES, schema="crm")) == 3
    with pytest.raises(MissingTableError) as err:
        export_tables(url_dsn, tmp_path / "x", schema="crm")
    assert "s3cr3t" not in str(err.value)
    with pytest.raises(ValueError) as err:
        source_label(f"host=127.0.0.1 password={secret} bogus", "t")
    assert "s3cr3t" not in str(err.value)


def test_missing_table_raises_naming_it(crm_db, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(MissingTableError, match=r"crm\.no_such_table") as err:
        export_tables(crm_db, out, tables={"crm_managers": "no_such_table"}, schema="crm")
    assert "crm.managers" in str(err.value)  # the entity it was meant for
    assert not out.exists()  # every table is checked before anything is written

    # Default names: crm.activities does not exist (the CRM calls it activity_log).
    with pytest.raises(MissingTableError, match=r"crm\.activities"):
        export_tables(crm_db, out, schema="crm")
    # Wrong schema.
    with pytest.raises(MissingTableError, match=r"public\.customers"):
        export_tables(crm_db, out, tables=TABLES)


def test_table_without_key_column_is_rejected(postgres_cluster, tmp_path):
    dbname, dsn = make_crm_database(postgres_cluster)
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE TABLE crm.bad_managers (name text, is_active boolean)")
        with pytest.raises(PostgresSourceError, match=r"lacks key column\(s\) manager_id"):
            export_tables(
                dsn, tmp_path, tables={**TABLES, "crm.managers": "bad_managers"}, schema="crm"
            )
    finally:
        postgres_cluster.drop_database(dbname)


def test_unknown_entity_in_mapping_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown CRM entity 'crm_clients'"):
        export_tables("host=127.0.0.1 port=1", tmp_path, tables={"crm_clients": "clients"})
    with pytest.raises(ValueError, match="unknown CRM entity 'orders_orders'"):
        export_tables("host=127.0.0.1 port=1", tmp_path, tables={"orders_orders": "orders"})
