"""When `retention_daily` runs: every day at a configurable time for the day before, and
whenever new files land, for the days they belong to."""

import calendar
import os
from datetime import date

import dagster as dg

from ingestion import files, loader, settings
from ingestion.contract import ENTITIES
from orchestration import partitions
from orchestration.dbt_assets import DBT_OPS


def all_rows_weekday() -> int | None:
    """RETENTION_TEST_ALL_ROWS_WEEKDAY (default sunday; `never` turns it off): the day of the
    week whose scheduled run tests every row, not only the rows the build rewrote."""
    name = os.environ.get("RETENTION_TEST_ALL_ROWS_WEEKDAY", "sunday").strip().lower()
    days = [d.lower() for d in calendar.day_name]
    if name == "never":
        return None
    if name not in days:
        raise ValueError(
            f"RETENTION_TEST_ALL_ROWS_WEEKDAY={name!r}: give a day of the week or 'never'"
        )
    return days.index(name)


def daily_schedule(job) -> dg.ScheduleDefinition:
    """RETENTION_SCHEDULE_CRON (default 06:00) in RETENTION_TIMEZONE (default UTC), read when
    the code location loads. Each tick builds the previous day's partition; once a week the
    tick's run tests every row (all_rows_weekday), since a daily run tests the big incremental
    models on the rows it rebuilt only."""
    weekday = all_rows_weekday()

    @dg.schedule(
        name="retention_daily_schedule",
        job=job,
        cron_schedule=os.environ.get("RETENTION_SCHEDULE_CRON", "0 6 * * *"),
        execution_timezone=os.environ.get("RETENTION_TIMEZONE", "UTC"),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The nightly build of yesterday's files: ingest, transform, check, publish, "
        "deliver.",
    )
    def schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        tick = context.scheduled_execution_time.date()
        day = partitions.yesterday(tick)
        if tick.weekday() != weekday:
            return dg.RunRequest(run_key=f"daily-{day}", partition_key=day.isoformat())
        return dg.RunRequest(
            run_key=f"daily-{day}",
            partition_key=day.isoformat(),
            run_config={"ops": {op: {"config": {"test_all_rows": True}} for op in DBT_OPS}},
            tags={"test_all_rows": "true"},
        )

    return schedule


def new_landing_files(landing, since: float) -> tuple[float, list[date], int]:
    """(newest modification time, delivery days of the files modified after `since`, number of
    files) over the entity folders: one directory listing per entity, so the sensor stays fast
    whatever the history, and it never opens the warehouse a run may be writing."""
    newest, days, count = since, [], 0
    for entity in ENTITIES:
        for path in loader.discover(landing, entity):
            count += 1
            modified = path.stat().st_mtime
            if modified > since:
                newest = max(newest, modified)
                days.append(files.delivery_date(path))
    return newest, days, count


def landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts retention_daily for the days of the files that landed since the "
        "last one seen.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        seen = float(context.cursor) if context.cursor else 0.0
        newest, days, count = new_landing_files(settings.paths().landing, seen)
        if not days:
            return dg.SkipReason(f"no new files in {count} landed")
        context.update_cursor(str(newest))
        today = date.fromisoformat(partitions.DAILY.get_last_partition_key())
        span = partitions.clamp(min(days), max(days), today)
        if span is None:
            return dg.SkipReason(f"{len(days)} new file(s), all dated after today")
        return dg.RunRequest(
            run_key=f"landing-{newest:.6f}",
            tags={"trigger": "landing_files", **partitions.range_tags(*span)},
        )

    return sensor
