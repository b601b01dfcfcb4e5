"""How the code location invokes dbt (orchestration.resources.dbt_environment): partial-parse
state kept between runs of one warehouse, and dbt unit tests left to CI."""

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
