"""One asset per destination × audience of destinations.yml, downstream of the dbt audience
model. Generated from the YAML when the code location loads, without connecting to anything
or reading a secret; delivering (consent, diff, retries, sync log) lives in `destinations/`."""

import dagster as dg

from destinations import state
from destinations.config import Config, Destination, load_config
from destinations.kinds import KINDS
from destinations.sync import sync_one
from orchestration.resources import DUCKDB_WRITER, Warehouse


def _destination_asset(destination: Destination, audience: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["destinations", f"{destination.name}__{audience}"],
        deps=[dg.AssetKey(["audiences", f"audience_{audience}"])],
        group_name="destinations",
        kinds=set(KINDS[destination.kind].dagster_kinds),
        # Reads the audience and writes the sync state and log into the warehouse.
        pool=DUCKDB_WRITER,
        tags={"destination_kind": destination.kind, "purpose": destination.purpose},
        description=(
            f"Audience `{audience}` delivered to `{destination.name}` ({destination.kind}, "
            f"{destination.purpose}): only the changes since its last successful delivery, "
            "consented rows only; every delivery is in `audiences.sync_log`. "
            + (destination.description or "")
        ).strip(),
    )
    def deliver(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            result = sync_one(con, destination, audience, log=context.log)
        metadata: dict[str, object] = {
            "status": result.status,
            "run_id": result.run_id,
            "mode": result.mode,
            "rows_total": result.rows_total,
            "rows_added": result.rows_added,
            "rows_changed": result.rows_changed,
            "rows_removed": result.rows_removed,
            "rows_failed": result.rows_failed,
            "rows_excluded": result.rows_excluded,
            "attempts": result.attempts,
            "location": result.location,
        }
        if result.details.get("folder"):
            metadata["folder"] = dg.MetadataValue.path(result.details["folder"])
        if result.files:
            metadata["files"] = dg.MetadataValue.md("\n".join(f"- `{f}`" for f in result.files))
        if result.error:
            metadata["reason" if result.status != state.FAILED else "error"] = result.error
        if result.status == state.FAILED:
            raise dg.Failure(
                description=f"{destination.name}/{audience}: {result.error}", metadata=metadata
            )
        return dg.MaterializeResult(metadata=metadata)

    return deliver


def build_destination_assets(config: Config | None = None) -> list[dg.AssetsDefinition]:
    """Assets for every destination × audience of ``config`` (default: destinations.yml)."""
    config = config or load_config()
    return [_destination_asset(d, a) for d in config.destinations for a in d.audiences]


destination_assets = build_destination_assets()
