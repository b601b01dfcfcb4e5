"""One asset per source entity: landing files (and the CRM's PostgreSQL, when configured) →
`raw.<source>_<entity>`. The loading logic lives in `ingestion/`."""

import time

import dagster as dg

from ingestion import sources
from ingestion.contract import ENTITIES, ORDER_LINES, ORDERS, Entity
from orchestration import expectation_checks, partitions
from orchestration.resources import DUCKDB_WRITER, Warehouse


def _ingestion_asset(entity: Entity) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", entity.table],
        group_name="raw",
        kinds={"duckdb", "python"},
        description=f"{entity.description} Loaded append-only from `landing/"
        f"{entity.source}/{entity.name}/`; every file is in `raw.load_ledger`. Partitioned "
        "by the day each file belongs to.",
        partitions_def=partitions.DAILY,
        backfill_policy=partitions.SINGLE_RUN,
        retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
        pool=DUCKDB_WRITER,
        check_specs=[expectation_checks.check_spec(entity)],
        # Lines are checked against the orders already loaded: orders go first.
        deps=[dg.AssetKey(["raw", ORDERS.table])] if entity is ORDER_LINES else None,
    )
    def ingest(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        paths = warehouse.paths()
        started = time.perf_counter()
        with warehouse.connect() as con:
            results = sources.ingest_entity(
                con, entity, paths, warehouse.postgres_dsn(), partitions.window(context)
            )
            raw_rows = con.execute(f"select count(*) from raw.{entity.table}").fetchone()[0]
            check = expectation_checks.contract_check(con, entity, results)
        by_status: dict[str, int] = {}
        for result in results:
            by_status[result.status] = by_status.get(result.status, 0) + 1
            if result.status == "rejected":
                context.log.warning(f"rejected {result.source_file}: {result.reason}")
        rows_read = sum(r.rows_read for r in results)
        rows_loaded = sum(r.rows_loaded for r in results)
        rows_quarantined = sum(r.rows_quarantined for r in results)
        return dg.MaterializeResult(
            metadata={
                "files_loaded": by_status.get("loaded", 0),
                "files_skipped_already_loaded": by_status.get("skipped", 0),
                "files_duplicate_content": by_status.get("duplicate", 0),
                "files_rejected": by_status.get("rejected", 0),
                "rows_read": rows_read,
                "rows_loaded": rows_loaded,
                "rows_quarantined": rows_quarantined,
                "rows_reconcile": rows_read == rows_loaded + rows_quarantined
                and all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results),
                "raw_row_count": raw_rows,
                "seconds": round(time.perf_counter() - started, 2),
            },
            check_results=[check],
        )

    return ingest


ingestion_assets = [_ingestion_asset(entity) for entity in ENTITIES]
