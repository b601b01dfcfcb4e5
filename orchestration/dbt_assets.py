"""Every dbt model, seed and test as Dagster assets and checks, read from the manifest.

A model an analyst adds with its YAML appears here after `make manifest` (run by `make demo`,
`make test` and `dagster dev`); no Python changes. Error-severity tests become blocking asset
checks: when one fails, the build step fails and nothing downstream (BI copy, deliveries) runs."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.resources import DUCKDB_WRITER, dbt_environment


class RetentionTranslator(DagsterDbtTranslator):
    """Models are keyed and grouped by the schema (layer) they build into."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            layer = dbt_resource_props["config"].get("schema") or "main"
            return dg.AssetKey([layer, dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dbt_resource_props["config"].get("schema") or "main"
        return super().get_group_name(dbt_resource_props)


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=RetentionTranslator(),
        pool=DUCKDB_WRITER,
    )
    def retention_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        with dbt_environment():
            yield from dbt.cli(["build"], context=context).stream()

    return retention_dbt_models
