"""Source freshness as asset checks on the raw assets (visible in the UI, WARN when stale).
The computation lives in ingestion/freshness.py, the expected interval in the dbt sources."""

import dagster as dg

from ingestion.contract import ENTITIES, Entity
from ingestion.freshness import source_freshness
from orchestration.resources import DUCKDB_WRITER, Warehouse


def _freshness_check(entity: Entity) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", entity.table]),
        name="source_freshness",
        description="A file with rows arrived within the source's expected interval.",
        pool=DUCKDB_WRITER,
    )
    def check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            report = next(f for f in source_freshness(con) if f.entity == entity.qualified_name)
        return dg.AssetCheckResult(
            passed=not report.is_stale,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "last_delivery_at": str(report.last_delivery_at),
                "age_hours": round(report.age_hours, 1) if report.age_hours is not None else -1,
                "expected_within_hours": report.expected_within_hours,
            },
        )

    return check


freshness_checks = [_freshness_check(entity) for entity in ENTITIES]
