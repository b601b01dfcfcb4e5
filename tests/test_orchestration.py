"""Production wiring: the blocking gate, the sensor, the schedule, one DuckDB writer."""

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from ingestion import settings
from ingestion.demo.generator import generate
from orchestration import partitions
from orchestration.jobs import retention_daily
from orchestration.resources import DBT_PROJECT_DIR, DUCKDB_WRITER
from orchestration.schedules import landing_sensor

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(900)
def test_a_failing_blocking_check_stops_publishing(tmp_path):
    """A copy of the dbt project with one deliberately broken mart test: the build fails, the
    check is reported failed, and the BI read copy is never published."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    (project / "tests" / "assert_deliberately_broken.sql").write_text(
        "-- Fails whenever any customer exists.\n"
        "select customer_id from {{ ref('dim_customers') }}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "RETENTION_WAREHOUSE": str(tmp_path / "parse.duckdb")}
    subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "parse",
            "--profiles-dir",
            str(project),
            "--quiet",
        ],
        cwd=project,
        env=env,
        check=True,
        timeout=300,
    )
    generate(settings.paths().landing, customers=120, days=90, seed=3)

    from orchestration.definitions import build_definitions

    defs = build_definitions(project)
    result = defs.resolve_job_def("retention_daily").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        tags=partitions.range_tags(date(2026, 8, 1), date(2026, 10, 31)),
    )

    assert not result.success
    materialised = {
        event.asset_key
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert dg.AssetKey(["raw", "orders_orders"]) in materialised
    assert dg.AssetKey(["bi", "read_copy"]) not in materialised
    assert not (settings.paths().bi / "retention.duckdb").exists()
    failed_checks = [
        event.event_specific_data.check_name
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
        and not event.event_specific_data.passed
    ]
    assert any("assert_deliberately_broken" in name for name in failed_checks)


def test_sensor_starts_a_run_only_when_a_new_file_lands():
    landing = settings.paths().ensure().landing
    sensor = landing_sensor(retention_daily)
    first = sensor(dg.build_sensor_context())
    assert isinstance(first, dg.SkipReason)

    folder = landing / "orders" / "orders"
    folder.mkdir(parents=True)
    (folder / "orders_2026-01-01.csv").write_text("order_id\n", encoding="utf-8")
    context = dg.build_sensor_context()
    request = sensor(context)
    assert isinstance(request, dg.RunRequest)
    # The run covers the day the file belongs to (its name), not today.
    assert request.tags[partitions.RANGE_START_TAG] == "2026-01-01"
    assert request.tags[partitions.RANGE_END_TAG] == "2026-01-01"
    cursor = context.cursor
    assert cursor

    again = sensor(dg.build_sensor_context(cursor=cursor))
    assert isinstance(again, dg.SkipReason)

    time.sleep(0.01)
    (folder / "orders_2026-01-02.csv").write_text("order_id\n", encoding="utf-8")
    later = dg.build_sensor_context(cursor=cursor)
    request = sensor(later)
    assert isinstance(request, dg.RunRequest)
    assert float(later.cursor) > float(cursor)
    # Only the new file's day: the one seen before is not rebuilt.
    assert request.tags[partitions.RANGE_START_TAG] == "2026-01-02"
    assert request.tags[partitions.RANGE_END_TAG] == "2026-01-02"


def test_the_schedule_builds_the_previous_day():
    from orchestration.definitions import defs

    schedule = defs.get_schedule_def("retention_daily_schedule")
    tick = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2026-11-23"


def test_once_a_week_the_scheduled_run_tests_every_row(monkeypatch):
    from orchestration.definitions import defs
    from orchestration.schedules import all_rows_weekday, daily_schedule

    job = defs.resolve_job_def("retention_daily")

    def request(day: int):  # the tick at 06:00 on 2026-11-<day>
        context = dg.build_schedule_context(
            scheduled_execution_time=datetime(2026, 11, day, 6, 0, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        return daily_schedule(job).evaluate_tick(context).run_requests[0]

    # 2026-11-29 is a Sunday (the default): both dbt steps test every row; Monday's do not.
    sunday, monday = request(29), request(30)
    assert (sunday.partition_key, monday.partition_key) == ("2026-11-28", "2026-11-29")
    assert sunday.run_config == {
        "ops": {
            "retention_dbt_daily": {"config": {"test_all_rows": True}},
            "retention_dbt_models": {"config": {"test_all_rows": True}},
        }
    }
    assert dg.validate_run_config(job, sunday.run_config)
    assert sunday.tags["test_all_rows"] == "true"
    assert not monday.run_config and "test_all_rows" not in monday.tags

    monkeypatch.setenv("RETENTION_TEST_ALL_ROWS_WEEKDAY", "Monday")
    assert (all_rows_weekday(), request(30).run_config != {}) == (0, True)
    monkeypatch.setenv("RETENTION_TEST_ALL_ROWS_WEEKDAY", "never")
    assert all_rows_weekday() is None and not request(29).run_config
    monkeypatch.setenv("RETENTION_TEST_ALL_ROWS_WEEKDAY", "weekends")
    with pytest.raises(ValueError, match="a day of the week or 'never'"):
        all_rows_weekday()


def test_schedule_and_sensor_are_listed_by_the_dagster_cli(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = str(Path(sys.executable).parent / "dagster")
    listings = {}
    for kind in ("schedule", "sensor"):
        done = subprocess.run(
            [dagster, kind, "list", "-m", "orchestration.definitions"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        listings[kind] = done.stdout
    assert "retention_daily_schedule" in listings["schedule"]
    assert "landing_files_sensor" in listings["sensor"]


def test_every_duckdb_writer_shares_one_pool():
    from orchestration.definitions import defs

    repository = defs.get_repository_def()
    writers = [
        asset
        for asset in repository.asset_graph.assets_defs
        if asset.keys and next(iter(asset.keys)).path[0] in ("raw", "staging", "bi")
    ]
    assert writers
    for asset in writers:
        pools = (
            {spec.pool for spec in [asset.node_def]} if hasattr(asset.node_def, "pool") else set()
        )
        assert pools == {DUCKDB_WRITER}, asset.keys
