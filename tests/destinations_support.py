"""Fixtures for the destination tests: audience tables shaped like the dbt audience models,
in a throwaway DuckDB file, and destinations.yml text in a temp folder."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import duckdb
import yaml

from destinations.config import Config, load_config

COLUMNS: list[tuple[str, str]] = [
    ("audience_name", "varchar"),
    ("audience_run_id", "varchar"),
    ("as_of_date", "date"),
    ("customer_id", "varchar"),
    ("customer_name", "varchar"),
    ("email", "varchar"),
    ("phone", "varchar"),
    ("country_code", "varchar"),
    ("city", "varchar"),
    ("company", "varchar"),
    ("manager_id", "varchar"),
    ("manager_name", "varchar"),
    ("customer_category", "varchar"),
    ("recommended_channel", "varchar"),
    ("recommended_action", "varchar"),
    ("priority_score", "decimal(10,4)"),
    ("reason_codes", "varchar"),
    ("reason_text", "varchar"),
    ("is_control", "boolean"),
    ("marketing_allowed", "boolean"),
    ("contact_allowed", "boolean"),
    # an extra of this audience
    ("days_since_last_purchase", "integer"),
]

D1 = dt.date(2026, 10, 30)
D2 = dt.date(2026, 10, 31)


def customer(customer_id: str, **overrides: Any) -> dict[str, Any]:
    """A customer every purpose may reach, unless ``overrides`` say otherwise."""
    row = {
        "customer_id": customer_id,
        "customer_name": f"Customer {customer_id}",
        "email": f"{customer_id.lower()}@example.com",
        "phone": "+44 20 7946 0958",
        "country_code": "GB",
        "city": "London",
        "company": None,
        "manager_id": "M1",
        "manager_name": "Anna Petrova",
        "customer_category": "A",
        "recommended_channel": "email",
        "recommended_action": "call and offer 10%",
        "priority_score": decimal.Decimal("0.5000"),
        "reason_codes": "overdue_purchase,recent_complaints",
        "reason_text": "overdue; complaints",
        "is_control": False,
        "marketing_allowed": True,
        "contact_allowed": True,
        "days_since_last_purchase": 120,
    }
    row.update(overrides)
    return row


# Who may receive what: C01, C07, C08 everything; C02 sales only; C04 marketing only; the
# control group (C03), NULL flags (C05, C06) nobody.
CONSENT_MIX = [
    customer("C01"),
    customer("C02", marketing_allowed=False),
    customer("C03", is_control=True),
    customer("C04", contact_allowed=False),
    customer("C05", marketing_allowed=None, contact_allowed=None),
    customer("C06", is_control=None),
    customer(
        "C07",
        customer_name="Иванов Иван",
        company='ООО "Ромашка"',
        city="Москва",
        email="  Ivan.Petrov@Example.RU ",
        phone="8 (915) 123-45-67",
        country_code="RU",
        reason_text="давно не покупал; жалобы",
    ),
    customer("C08", phone="020 7946 0958", email=None),
]
MARKETING_IDS = {"C01", "C04", "C07", "C08"}
SALES_IDS = {"C01", "C02", "C07", "C08"}


def write_audience(
    con: duckdb.DuckDBPyConnection,
    audience: str,
    rows: list[dict[str, Any]],
    as_of: dt.date = D1,
) -> None:
    """(Re)create ``audiences.audience_<audience>`` with ``rows`` for one run."""
    con.execute("create schema if not exists audiences")
    columns = ", ".join(f"{c} {t}" for c, t in COLUMNS)
    con.execute(f"create or replace table audiences.audience_{audience} ({columns})")
    names = [c for c, _ in COLUMNS]
    con.executemany(
        f"insert into audiences.audience_{audience} values ({', '.join('?' for _ in names)})",
        [
            [
                {
                    "audience_name": audience,
                    "audience_run_id": f"{audience}:{as_of.isoformat()}",
                    "as_of_date": as_of,
                    **row,
                }[c]
                for c in names
            ]
            for row in rows
        ],
    )


def warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tmp_path / "warehouse.duckdb"))


def make_config(tmp_path: Path, destinations: list[dict[str, Any]], **defaults: Any) -> Config:
    """destinations.yml written to ``tmp_path`` and loaded the way production loads it."""
    path = tmp_path / "destinations.yml"
    data = {
        "version": 1,
        "defaults": {"attempts": 1, "retry_delay_seconds": 0, **defaults},
        "destinations": destinations,
    }
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def sync_log(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cursor = con.execute("select * from audiences.sync_log order by started_at, destination")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
