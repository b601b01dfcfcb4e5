"""Source freshness: how long since each source last delivered a file with rows.

A daily export that stops arriving is the quietest failure there is: the marts keep their
last values and look fine. The expectation per source is the dbt source's `freshness`; the
Dagster checks and the run summary read it through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import yaml

from ingestion.contract import ENTITIES

# One home for the expectation: the dbt source definitions (`freshness.warn_after`, per source
# with per-table overrides), which `dbt source freshness` reads too.
SOURCES_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging"
HOURS_PER = {"minute": 1 / 60, "hour": 1, "day": 24}


def expected_within_hours(sources_dir: Path = SOURCES_DIR) -> dict[str, float]:
    """`source.table` → hours without a delivered row before the source counts as stale."""
    expected = {}
    for path in sorted(sources_dir.rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            default = _warn_after(source)
            for table in source["tables"]:
                warn = _warn_after(table) or default
                if warn:
                    expected[f"{source['name']}.{table['name']}"] = (
                        warn["count"] * HOURS_PER[warn["period"]]
                    )
    return expected


def _warn_after(node: dict) -> dict | None:
    freshness = (node.get("config") or {}).get("freshness") or node.get("freshness") or {}
    return freshness.get("warn_after")


@dataclass
class Freshness:
    entity: str
    last_delivery_at: datetime | None
    age_hours: float | None
    expected_within_hours: float

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
    expected = expected_within_hours()
    report = []
    for entity in ENTITIES:
        delivered = last.get(entity.qualified_name)
        age = (now - delivered).total_seconds() / 3600 if delivered else None
        report.append(
            Freshness(entity.qualified_name, delivered, age, expected[entity.qualified_name])
        )
    return report
