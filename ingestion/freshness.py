"""Source freshness: how long since each source last delivered a file with rows.

A daily export that stops arriving is the quietest failure there is: the marts keep their
last values and look fine. The expectation per source is data, below; the Dagster checks and
the run summary read it from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from ingestion.contract import ENTITIES

# Hours without a delivered row before a source counts as stale. Managers change rarely.
FRESH_WITHIN_HOURS = {
    "crm.customers": 48,
    "crm.managers": 24 * 45,
    "crm.activities": 72,
    "orders.orders": 48,
    "orders.order_lines": 48,
    "support.tickets": 72,
}


@dataclass
class Freshness:
    entity: str
    last_delivery_at: datetime | None
    age_hours: float | None
    expected_within_hours: int

    @property
    def is_stale(self) -> bool:
        return self.age_hours is None or self.age_hours > self.expected_within_hours


def source_freshness(
    con: duckdb.DuckDBPyConnection, now: datetime | None = None
) -> list[Freshness]:
    now = now or datetime.now()
    has_ledger = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'raw' and table_name = 'load_ledger'"
    ).fetchone()[0]
    last = {}
    if has_ledger:
        last = dict(
            con.execute(
                "select entity, max(loaded_at) from raw.load_ledger "
                "where status = 'loaded' and rows_loaded > 0 group by entity"
            ).fetchall()
        )
    report = []
    for entity in ENTITIES:
        delivered = last.get(entity.qualified_name)
        age = (now - delivered).total_seconds() / 3600 if delivered else None
        report.append(
            Freshness(
                entity.qualified_name, delivered, age, FRESH_WITHIN_HOURS[entity.qualified_name]
            )
        )
    return report
