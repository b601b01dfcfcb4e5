import dagster as dg

from orchestration import partitions

retention_daily = dg.define_asset_job(
    "retention_daily",
    selection=dg.AssetSelection.all(),
    # Raw tables and incremental staging run for the run's days; the rest is rebuilt whole.
    partitions_def=partitions.DAILY,
    description="Everything: ingest every source, then build and test every dbt model.",
)
