"""How the code location invokes dbt (orchestration.resources.dbt_environment): partial-parse
state kept between runs of one warehouse, dbt unit tests left to CI, and a dbt.log without
debug lines."""

from __future__ import annotations

import json

from ingestion import settings
from orchestration.resources import DBT_PROJECT_DIR, dbt_environment
from tests.dbt_helpers import run_dbt


def test_second_invocation_reuses_the_parse(tmp_path):
    parsed = []
    for _ in range(2):
        with dbt_environment(parse_state="parse", target_root=tmp_path) as target:
            run_dbt(["parse", "--quiet"], settings.paths().warehouse, tmp_path, target)
        perf = json.loads((target / "perf_info.json").read_text())
        parsed.append((perf["parsed_path_count"], perf["path_count"]))
    (first, total), (second, _) = parsed
    # A new warehouse: nothing to reuse (the prepared manifest's profile names another file).
    assert first == total > 100
    assert second == 0


def test_a_new_day_keeps_the_parse_and_reaches_the_delivery_window(tmp_path):
    """Dagster hands dbt the run's days in the environment (partitions.dbt_window): a new day
    re-parses nothing, where a new `--vars` re-parses every file."""
    warehouse = settings.paths().warehouse

    def parsed(*args, env=None):
        with dbt_environment(parse_state="days", target_root=tmp_path, env=env) as target:
            run_dbt(["parse", "--quiet", *args], warehouse, tmp_path, target)
        perf = json.loads((target / "perf_info.json").read_text())
        return perf["parsed_path_count"], perf["path_count"]

    def days(first, last):
        return {"RETENTION_DBT_MIN_DATE": first, "RETENTION_DBT_MAX_DATE": last}

    parsed(env=days("2026-01-01", "2026-01-01"))
    assert parsed(env=days("2026-01-02", "2026-01-02"))[0] == 0
    changed, total = parsed("--vars", "{min_date: '2026-01-03', max_date: '2026-01-03'}")
    assert changed == total > 100

    inline = ["compile", "--quiet", "--inline", "select {{ delivery_window() }}"]
    with dbt_environment(env=days("2026-01-04", "2026-01-06")):
        sql = run_dbt(inline, warehouse, tmp_path).stdout
    assert "between cast('2026-01-04' as date) and cast('2026-01-06' as date)" in sql
    # By hand, vars still win over the environment.
    with dbt_environment(env=days("2026-01-04", "2026-01-06")):
        sql = run_dbt(
            [*inline, "--vars", "{min_date: '2025-05-01', max_date: '2025-05-02'}"],
            warehouse,
            tmp_path,
        ).stdout
    assert "between cast('2025-05-01' as date) and cast('2025-05-02' as date)" in sql


def test_the_weekly_run_tests_every_row_without_a_new_parse(tmp_path):
    """RETENTION_TEST_ALL_ROWS (DbtBuildConfig.test_all_rows) is read only when a test runs:
    the saved parse stays valid, where `--vars '{test_all_rows: true}'` re-parses every file."""
    warehouse = settings.paths().warehouse

    def parsed(env=None):
        with dbt_environment(parse_state="all_rows", target_root=tmp_path, env=env) as target:
            run_dbt(["parse", "--quiet"], warehouse, tmp_path, target)
        return json.loads((target / "perf_info.json").read_text())["parsed_path_count"]

    parsed()
    assert parsed(env={"RETENTION_TEST_ALL_ROWS": "true"}) == 0
    assert parsed(env={"RETENTION_TEST_ALL_ROWS": "false"}) == 0


def test_production_builds_leave_unit_tests_to_ci(tmp_path):
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    listing = ["ls", "--resource-type", "unit_test", "--output", "name", "--quiet"]
    warehouse = settings.paths().warehouse
    assert len(manifest["unit_tests"]) >= 20
    ci = run_dbt(listing, warehouse, tmp_path / "ci")
    assert len(ci.stdout.split()) == len(manifest["unit_tests"])
    with dbt_environment(parse_state="ls", target_root=tmp_path) as target:
        production = run_dbt(listing, warehouse, tmp_path, target)
    assert production.stdout.split() == []


def test_dbt_log_keeps_warnings_not_debug_lines_unless_asked(tmp_path, monkeypatch):
    # As dagster-dbt runs dbt: JSON events, one dbt.log per invocation.
    monkeypatch.setenv("DBT_LOG_FORMAT", "json")
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)

    def levels(scratch):
        with dbt_environment():
            run_dbt(["parse", "--no-partial-parse"], settings.paths().warehouse, scratch)
        lines = (scratch / "logs" / "dbt.log").read_text().splitlines()
        return {json.loads(line)["info"]["level"] for line in lines}

    assert "debug" not in levels(tmp_path / "default")
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    assert "debug" in levels(tmp_path / "asked")


def test_the_dbt_resource_starts_dbt_without_a_version_probe_or_an_adapter(tmp_path, monkeypatch):
    import re
    import subprocess

    from dagster_dbt.core import resource as dagster_dbt_resource

    from orchestration.resources import dbt_executable, dbt_project, dbt_resource

    # What dagster-dbt would have learnt from `dbt --version`, asked here independently.
    printed = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    core = re.search(r"Core:\s*\n\s*- installed:\s*(\d+\.\d+\.\d+)", printed).group(1)

    def no_probe(*args, **kwargs):
        raise AssertionError(f"dagster-dbt ran {args[0]!r}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_probe)
    dbt = dbt_resource(dbt_project())
    assert str(dbt._cli_version) == core
    with dbt_environment(parse_state="ls", target_root=tmp_path) as target:
        invocation = dbt.cli(
            ["ls", "--select", "stg_crm__managers", "--output", "name", "--quiet"],
            target_path=target,
        )
        invocation.wait()
    assert invocation.adapter is None
    assert invocation.is_successful()
