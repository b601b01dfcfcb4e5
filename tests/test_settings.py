"""DuckDB sizing: one set of RETENTION_DUCKDB_* settings for dbt and every connection."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from destinations.bi_copy import publish
from ingestion import settings
from orchestration.resources import Warehouse

PROFILES = Path(__file__).resolve().parent.parent / "dbt_project" / "profiles.yml"


def _sized(con) -> tuple[int, str, str]:
    return con.execute(
        "select current_setting('threads'), current_setting('memory_limit'), "
        "current_setting('temp_directory')"
    ).fetchone()


def _mib(setting: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)\s*(\w+)", setting).groups()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


@pytest.mark.parametrize("read_only", [False, True])
def test_warehouse_connections_honour_the_duckdb_settings(monkeypatch, tmp_path, read_only):
    monkeypatch.setenv("RETENTION_DUCKDB_THREADS", "1")
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "512MiB")
    monkeypatch.setenv("RETENTION_DUCKDB_TEMP_DIRECTORY", str(tmp_path / "spill"))
    warehouse = Warehouse()
    with warehouse.connect():  # the file exists before a read-only connection
        pass
    with warehouse.connect(read_only=read_only) as con:
        threads, memory_limit, temp_directory = _sized(con)
    assert threads == 1
    assert _mib(memory_limit) == pytest.approx(512, rel=0.01)
    assert Path(temp_directory) == tmp_path / "spill"


def test_the_defaults_are_those_of_profiles_yml(monkeypatch):
    for name in ("THREADS", "MEMORY_LIMIT", "TEMP_DIRECTORY"):
        monkeypatch.delenv(f"RETENTION_DUCKDB_{name}", raising=False)
    profiles = PROFILES.read_text(encoding="utf-8")
    config = settings.duckdb_config()
    assert f"env_var('RETENTION_DUCKDB_THREADS', '{config['threads']}')" in profiles
    assert f"env_var('RETENTION_DUCKDB_MEMORY_LIMIT', '{config['memory_limit']}')" in profiles
    # profiles.yml: `<RETENTION_WAREHOUSE>.tmp`; the Dagster resource sets that variable.
    assert "env_var('RETENTION_WAREHOUSE', '../data/warehouse.duckdb') ~ '.tmp'" in profiles
    assert config["temp_directory"] == f"{settings.paths().warehouse}.tmp"
    with Warehouse().connect() as con:
        threads, memory_limit, _ = _sized(con)
    assert threads == 2
    assert _mib(memory_limit) == pytest.approx(8 * 1000**3 / 1024**2, rel=0.01)  # 8GB


def test_the_bi_copy_is_written_with_the_duckdb_settings(monkeypatch, tmp_path):
    """publish() opens its staging file with the settings: a memory limit it cannot parse
    fails the copy (and leaves no copy behind)."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.t as select 1 as x")
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "not-a-size")
    with pytest.raises(duckdb.Error):
        publish(warehouse, tmp_path / "bi", run_id="r")
    assert not (tmp_path / "bi" / "retention.duckdb").exists()
    monkeypatch.setenv("RETENTION_DUCKDB_MEMORY_LIMIT", "256MiB")
    published = publish(warehouse, tmp_path / "bi", run_id="r")
    assert published.tables == {"marts.t": 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, settings.GX_DEFAULT_SAMPLE_ROWS), ("5000", 5000), ("all", None), ("0", None)],
)
def test_the_gx_sample_size_comes_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("RETENTION_GX_SAMPLE_ROWS", raising=False)
    else:
        monkeypatch.setenv("RETENTION_GX_SAMPLE_ROWS", value)
    assert settings.gx_sample_rows() == expected


@pytest.mark.parametrize("value", ["-1", "lots"])
def test_a_bad_gx_sample_size_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("RETENTION_GX_SAMPLE_ROWS", value)
    with pytest.raises(ValueError, match="RETENTION_GX_SAMPLE_ROWS"):
        settings.gx_sample_rows()


@pytest.mark.parametrize(
    ("value", "rows", "expected"),
    [
        (None, 1, 25_000),
        (None, 1_000_000, 25_000),
        (None, 1_000_001, 50_000),
        (None, 3_000_000, 75_000),
        ("5000", 2_500_000, 15_000),
        ("all", 3_000_000, None),
    ],
)
def test_the_gx_sample_grows_per_started_million_rows(monkeypatch, value, rows, expected):
    if value is None:
        monkeypatch.delenv("RETENTION_GX_SAMPLE_ROWS", raising=False)
    else:
        monkeypatch.setenv("RETENTION_GX_SAMPLE_ROWS", value)
    assert settings.gx_sample_size(rows) == expected
