"""When `retention_daily` runs: every day at a configurable time, and whenever new files land."""

import os

import dagster as dg

from ingestion import loader, settings
from ingestion.contract import ENTITIES


def daily_schedule(job) -> dg.ScheduleDefinition:
    """RETENTION_SCHEDULE_CRON (default 06:00) in RETENTION_TIMEZONE (default UTC), read when
    the code location loads."""
    return dg.ScheduleDefinition(
        name="retention_daily_schedule",
        job=job,
        cron_schedule=os.environ.get("RETENTION_SCHEDULE_CRON", "0 6 * * *"),
        execution_timezone=os.environ.get("RETENTION_TIMEZONE", "UTC"),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The nightly build: ingest, transform, check, publish, deliver.",
    )


def newest_landing_file(landing) -> tuple[float, int]:
    """(newest modification time, number of files) over the entity folders: one directory
    listing per entity, so the sensor stays fast whatever the history."""
    newest, count = 0.0, 0
    for entity in ENTITIES:
        for path in loader.discover(landing, entity):
            count += 1
            newest = max(newest, path.stat().st_mtime)
    return newest, count


def landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_files_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Starts retention_daily when a file newer than the last one seen lands.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        newest, count = newest_landing_file(settings.paths().landing)
        seen = float(context.cursor) if context.cursor else 0.0
        if newest <= seen:
            return dg.SkipReason(f"no new files in {count} landed")
        context.update_cursor(str(newest))
        return dg.RunRequest(run_key=f"landing-{newest:.6f}", tags={"trigger": "landing_files"})

    return sensor
