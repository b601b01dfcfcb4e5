"""How the code location invokes dbt (orchestration.resources.dbt_environment): partial-parse
state kept between runs of one warehouse, and dbt unit tests left to CI."""

from __future__ import annotations

import json
import os
import subprocess

from orchestration.resources import DBT_PROJECT_DIR, dbt_environment, dbt_executable


def dbt(args: list[str], target) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dbt_executable(), *args, "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", target],
        cwd=DBT_PROJECT_DIR,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
    )


def test_second_invocation_reuses_the_parse(tmp_path):
    parsed = []
    for _ in range(2):
        with dbt_environment(parse_state="parse", target_root=tmp_path) as target:
            dbt(["parse", "--quiet"], str(target))
        perf = json.loads((target / "perf_info.json").read_text())
        parsed.append((perf["parsed_path_count"], perf["path_count"]))
    (first, total), (second, _) = parsed
    # A new warehouse: nothing to reuse (the prepared manifest's profile names another file).
    assert first == total > 100
    assert second == 0


def test_production_builds_leave_unit_tests_to_ci(tmp_path):
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    listing = ["ls", "--resource-type", "unit_test", "--output", "name", "--quiet"]
    assert len(manifest["unit_tests"]) >= 20
    env = {**os.environ, "RETENTION_WAREHOUSE": str(tmp_path / "w.duckdb")}
    ci = subprocess.run(
        [dbt_executable(), *listing, "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env={**env, "DBT_TARGET_PATH": str(tmp_path / "ci")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(ci.stdout.split()) == len(manifest["unit_tests"])
    with dbt_environment(parse_state="ls", target_root=tmp_path) as target:
        production = dbt(listing, str(target))
    assert production.stdout.split() == []
