"""Every dbt model, seed and test as Dagster assets and checks, read from the manifest.

A model an analyst adds with its YAML appears here after `make manifest` (run by `make demo`,
`make test` and `dagster dev`); no Python changes. Error-severity tests become blocking asset
checks: when one fails, the build step fails and nothing downstream (BI copy, deliveries) runs."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration import partitions
from orchestration.report import row_counts
from orchestration.resources import DUCKDB_WRITER, Warehouse, dbt_environment


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


DAILY_SELECTOR = "tag:daily"


# The op of each set of dbt assets, for run config (`retention full-refresh`, the weekly run).
DAILY_OP, MODELS_OP = "retention_dbt_daily", "retention_dbt_models"
DBT_OPS = (DAILY_OP, MODELS_OP)


class DbtBuildConfig(dg.Config):
    """`full_refresh` rebuilds incremental models from all of raw (`retention full-refresh`).
    `test_all_rows` tests every row where a daily build tests only the rows it rebuilt (tests
    with `where: __latest_build__`; the schedule sets it once a week)."""

    full_refresh: bool = False
    test_all_rows: bool = False


def build_dbt_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    """Two sets: the incremental staging models (tag `daily`) partitioned like the raw tables
    they read, built for the run's days; everything else unpartitioned, rebuilt every run."""
    return [
        _dbt_assets(
            project,
            DAILY_OP,
            select=DAILY_SELECTOR,
            partitions_def=partitions.DAILY,
            backfill_policy=partitions.SINGLE_RUN,
        ),
        _dbt_assets(project, MODELS_OP, exclude=DAILY_SELECTOR),
    ]


def _dbt_assets(
    project: DbtProject,
    name: str,
    select: str = "fqn:*",
    exclude: str | None = None,
    partitions_def: dg.PartitionsDefinition | None = None,
    backfill_policy: dg.BackfillPolicy | None = None,
) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name=name,
        select=select,
        exclude=exclude,
        dagster_dbt_translator=RetentionTranslator(),
        pool=DUCKDB_WRITER,
        partitions_def=partitions_def,
        backfill_policy=backfill_policy,
    )
    def retention_dbt(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: Warehouse,
        config: DbtBuildConfig,
    ):
        args = ["build"]
        env = partitions.dbt_window(context) if partitions_def is not None else {}
        if config.test_all_rows:
            env["RETENTION_TEST_ALL_ROWS"] = "true"
        if config.full_refresh:
            args.append("--full-refresh")
        # dbt holds the DuckDB file for its whole run, so row counts are read once it exits;
        # events are held back until then (and still reported when the build fails).
        events, failure = [], None
        with dbt_environment(parse_state=name, env=env) as target:
            invocation = dbt.cli(args, context=context, target_path=target)
            try:
                events.extend(invocation.stream())
            except Exception as exc:  # re-raised below, after what did succeed is reported
                failure = exc
                # Never leave dbt running (and holding the file) behind a failed step.
                if invocation.process.poll() is None:
                    invocation.process.terminate()
                invocation.process.wait()
        outputs = [event for event in events if isinstance(event, dg.Output)]
        counts = {}
        if failure is None:
            counts = row_counts(
                warehouse.paths().warehouse,
                [context.asset_key_for_output(event.output_name) for event in outputs],
            )
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                if key in counts:
                    event = event.with_metadata({**event.metadata, "row_count": counts[key]})
            yield event
        if failure is not None:
            raise failure

    return retention_dbt
