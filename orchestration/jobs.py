import dagster as dg

retention_daily = dg.define_asset_job(
    "retention_daily",
    selection=dg.AssetSelection.all(),
    description="Everything: ingest every source, then build and test every dbt model.",
)
