"""The Dagster code location: `dagster dev -m orchestration.definitions`."""

import os
from pathlib import Path

import dagster as dg

from orchestration.alerts import failure_alert
from orchestration.checks import freshness_checks
from orchestration.dbt_assets import build_dbt_assets
from orchestration.destination_assets import destination_assets
from orchestration.ingestion_assets import ingestion_assets
from orchestration.jobs import retention_daily
from orchestration.model_assets import clv_holdout_validation
from orchestration.publish_assets import build_bi_read_copy, published_keys
from orchestration.resources import (
    DBT_PROJECT_DIR,
    Warehouse,
    dbt_project,
    dbt_resource,
    ensure_manifest,
)
from orchestration.schedules import daily_schedule, landing_sensor


def build_definitions(dbt_project_dir: Path = DBT_PROJECT_DIR) -> dg.Definitions:
    project = dbt_project(dbt_project_dir)
    if os.environ.get("DAGSTER_IS_DEV_CLI"):
        # `dagster dev` (make ui): pick up model edits on reload, with the project's dbt.
        ensure_manifest(dbt_project_dir)
    dbt_models = build_dbt_assets(project)
    bi_read_copy = build_bi_read_copy(
        [
            *published_keys([key for assets in dbt_models for key in assets.keys]),
            clv_holdout_validation.key,
        ]
    )
    return dg.Definitions(
        assets=[
            *ingestion_assets,
            *dbt_models,
            clv_holdout_validation,
            bi_read_copy,
            *destination_assets,
        ],
        asset_checks=freshness_checks,
        jobs=[retention_daily],
        schedules=[daily_schedule(retention_daily)],
        sensors=[landing_sensor(retention_daily), failure_alert],
        resources={"warehouse": Warehouse(), "dbt": dbt_resource(project)},
        # Steps of a run execute one after another in one process; across runs the
        # duckdb_writer pool (dagster.yaml) keeps DuckDB to one writer.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
