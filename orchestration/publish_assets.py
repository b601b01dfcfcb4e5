"""The BI read copy as an asset downstream of every published mart: it only runs when the build
and its blocking checks succeeded. The copying lives in destinations/bi_copy.py."""

from collections.abc import Sequence

import dagster as dg

from destinations.bi_copy import PUBLISHED_SCHEMAS, publish
from orchestration.resources import DUCKDB_WRITER, Warehouse


def build_bi_read_copy(upstream: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["bi", "read_copy"],
        deps=list(upstream),
        group_name="bi",
        kinds={"duckdb", "parquet"},
        # It reads the warehouse: no writer may hold it meanwhile.
        pool=DUCKDB_WRITER,
        description="Marts and audiences copied to a separate DuckDB file and Parquet folder "
        "that BI tools open read-only, swapped in atomically after a build that passed.",
    )
    def bi_read_copy(
        context: dg.AssetExecutionContext, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        paths = warehouse.paths()
        published = publish(paths.warehouse, paths.bi, run_id=context.run.run_id)
        return dg.MaterializeResult(
            metadata={
                "database": dg.MetadataValue.path(str(published.database)),
                "parquet": dg.MetadataValue.path(str(published.parquet)),
                "tables": len(published.tables),
                "rows": sum(published.tables.values()),
            }
        )

    return bi_read_copy


def published_keys(keys: Sequence[dg.AssetKey]) -> list[dg.AssetKey]:
    return [key for key in keys if key.path[0] in PUBLISHED_SCHEMAS]
