"""Generate a small world, materialise every asset through Dagster, reconcile the counts.

Landing counts are computed here independently (csv/json/pyarrow), not by the loader."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion import loader
from ingestion.contract import ENTITIES, Entity
from ingestion.demo.generator import generate
from orchestration import partitions
from tests.dbt_helpers import run_dbt

ROOT = Path(__file__).resolve().parent.parent
# The generated history's delivery days (120 up to 2026-10-31), as one single-run range.
DAYS = partitions.range_tags(date(2026, 6, 1), date(2026, 10, 31))


def records_of(path: Path) -> list[dict]:
    """Every record of one landing file, parsed without the loader."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1251")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def landing_records(landing: Path, entity: Entity) -> list[dict]:
    return [rec for path in loader.discover(landing, entity) for rec in records_of(path)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    generate(
        home / "data" / "landing",
        customers=250,
        days=120,
        seed=11,
        orders_format="parquet",
        tickets_format="jsonl",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETENTION_HOME", str(home))
        for var in ("RETENTION_WAREHOUSE", "RETENTION_LANDING_DIR", "RETENTION_DATA_DIR"):
            patch.delenv(var, raising=False)
        from orchestration.definitions import defs

        job = defs.get_job_def("retention_daily")
        instance = dg.DagsterInstance.ephemeral()
        first = job.execute_in_process(instance=instance, tags=DAYS)
        with duckdb.connect(str(home / "data" / "warehouse.duckdb"), read_only=True) as con:
            snapshot = _snapshot(con)
        second = job.execute_in_process(instance=instance, tags=DAYS)
        yield {"home": home, "first": first, "second": second, "snapshot": snapshot, "job": job}


def _snapshot(con) -> dict[str, int]:
    relations = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where schema_name in ('raw', 'staging') union all "
        "select schema_name || '.' || view_name from duckdb_views() "
        "where schema_name in ('raw', 'staging')"
    ).fetchall()
    return {r: con.execute(f"select count(*) from {r}").fetchone()[0] for (r,) in relations}


def test_every_asset_materialises(world):
    assert world["first"].success and world["second"].success
    materialised = {
        e.asset_key
        for e in world["first"].all_events
        if e.is_successful_output or e.event_type_value == "ASSET_MATERIALIZATION"
    }
    expected = set(world["job"].asset_layer.executable_asset_keys)
    assert expected <= materialised
    assert {dg.AssetKey(["raw", e.table]) for e in ENTITIES} <= expected
    assert {dg.AssetKey(["staging", f"stg_{e.source}__{e.name}"]) for e in ENTITIES} <= expected


def test_counts_reconcile_landing_raw_staging(world):
    home = world["home"]
    landing = home / "data" / "landing"
    with duckdb.connect(str(home / "data" / "warehouse.duckdb"), read_only=True) as con:
        for entity in ENTITIES:
            records = landing_records(landing, entity)
            raw = con.execute(f"select count(*) from raw.{entity.table}").fetchone()[0]
            quarantined = con.execute(
                "select count(*) from raw.quarantine where entity = ?", [entity.qualified_name]
            ).fetchone()[0]
            read, loaded = con.execute(
                "select sum(rows_read), sum(rows_loaded) from raw.load_ledger where entity = ?",
                [entity.qualified_name],
            ).fetchone()
            assert len(records) == read == raw + quarantined, entity.table
            assert loaded == raw
            # Demo data is clean: nothing quarantined, nothing rejected.
            assert quarantined == 0, entity.table

            staging = con.execute(
                f"select count(*) from staging.stg_{entity.source}__{entity.name}"
            ).fetchone()[0]
            if entity.name == "order_lines":
                # Current lines: those of the latest file that carried each order.
                latest: dict[str, set] = {}
                for path in loader.discover(landing, entity):
                    for rec in records_of(path):
                        latest.setdefault(rec["order_id"], {}).setdefault(path, set()).add(
                            str(rec["line_number"])
                        )
                expected = sum(len(by_file[max(by_file)]) for by_file in latest.values())
            else:
                expected = len({tuple(str(r[k]) for k in entity.key) for r in records})
            assert staging == expected, entity.table
            assert len(records) > staging or entity.name in ("managers", "activities")


def test_second_run_changes_nothing(world):
    home = world["home"]
    with duckdb.connect(str(home / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert _snapshot(con) == world["snapshot"]
        statuses = con.execute("select status, count(*) from raw.load_ledger group by 1").fetchall()
    assert dict(statuses).keys() == {"loaded"}


def test_dbt_unit_tests_pass(world, tmp_path):
    """Production builds leave dbt's unit tests out (resources.dbt_environment): CI runs every
    one of them here, against the warehouse the job built."""
    warehouse = world["home"] / "data" / "warehouse.duckdb"
    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    run_dbt(["test", "--select", "test_type:unit"], warehouse, tmp_path)
    results = json.loads((tmp_path / "dbt_target" / "run_results.json").read_text())["results"]
    assert sorted(r["unique_id"] for r in results) == sorted(manifest["unit_tests"])
    assert {r["status"] for r in results} == {"pass"}


def test_definitions_validate():
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "orchestration.definitions",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "All code locations passed validation" in done.stderr + done.stdout
