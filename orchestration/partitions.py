"""Daily partitions: one per delivery day (files.delivery_date), shared by the raw tables and
the incremental staging models (tag `daily`). A run covers one day or a range in one go
(BackfillPolicy.single_run): ingestion loads the files of those days, dbt gets the range as
RETENTION_DBT_MIN_DATE/RETENTION_DBT_MAX_DATE (`dbt_window`).

RETENTION_PARTITIONS_START (default 2024-01-01) is the first day; files delivered before it
belong to the first partition, so no history is ever out of reach. Today is a partition too
(end_offset=1): a file that lands today can be loaded today."""

from __future__ import annotations

import os
from datetime import date, timedelta

import dagster as dg

from ingestion.loader import Window

DEFAULT_START = "2024-01-01"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(
        start_date=os.environ.get("RETENTION_PARTITIONS_START", DEFAULT_START),
        timezone=os.environ.get("RETENTION_TIMEZONE", "UTC"),
        end_offset=1,
    )


DAILY = daily_partitions()
SINGLE_RUN = dg.BackfillPolicy.single_run()
# The tags that make one run cover a range of partitions (what a single-run backfill sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: date, last: date) -> dict[str, str]:
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def first_day() -> date:
    return date.fromisoformat(DAILY.get_first_partition_key())


def window(context: dg.AssetExecutionContext) -> Window:
    """The delivery days of this run's partition range; the first partition is open to the
    past."""
    keys = context.partition_key_range
    first, last = date.fromisoformat(keys.start), date.fromisoformat(keys.end)
    return Window(None if first <= first_day() else first, last)


def dbt_window(context: dg.AssetExecutionContext) -> dict[str, str]:
    """The run's days for dbt's `delivery_window()`, as environment variables, not `--vars`:
    dbt re-parses the whole project whenever a var changes (~4 s, every day), while an env var
    read only when a model compiles leaves the saved parse valid."""
    days = window(context)
    return {
        "RETENTION_DBT_MIN_DATE": (days.first or date(1900, 1, 1)).isoformat(),
        "RETENTION_DBT_MAX_DATE": days.last.isoformat(),
    }


def clamp(first: date, last: date, today: date) -> tuple[date, date] | None:
    """A range of delivery days cut to the partitions that exist (None when nothing is left)."""
    first, last = max(first, first_day()), min(last, today)
    return (first, last) if first <= last else None


def yesterday(today: date) -> date:
    return today - timedelta(days=1)
