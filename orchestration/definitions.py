"""The Dagster code location: `dagster dev -m orchestration.definitions`."""

import dagster as dg

from orchestration.dbt_assets import project, retention_dbt_models
from orchestration.ingestion_assets import ingestion_assets
from orchestration.jobs import retention_daily
from orchestration.model_assets import clv_holdout_validation
from orchestration.resources import Warehouse, dbt_resource

defs = dg.Definitions(
    assets=[*ingestion_assets, retention_dbt_models, clv_holdout_validation],
    jobs=[retention_daily],
    resources={
        "warehouse": Warehouse(
            crm_postgres_dsn=dg.EnvVar("RETENTION_CRM_POSTGRES_DSN").get_value(None)
        ),
        "dbt": dbt_resource(project),
    },
    # One DuckDB writer at a time: steps run in one process, one after another.
    executor=dg.in_process_executor,
)
