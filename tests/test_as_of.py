"""A run with an earlier `as_of_date` says what the pipeline would have said on that day.

Two warehouses: one loaded with every daily file and built with `as_of_date = D`, one loaded
only with the files delivered up to D. Every intermediate and mart relation must be equal, row
for row — so no version, event or fit input after D leaks into the first."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingestion import loader
from ingestion.demo.generator import generate
from tests.dbt_helpers import run_dbt

CUTOFF = date(2026, 7, 31)
FILE_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def build(home: Path, landing: Path, as_of: date) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    warehouse = home / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        loader.load_landing(con, landing, home / "rejected")
    variables = json.dumps({"as_of_date": as_of.isoformat()})
    run_dbt(["seed", "--vars", variables], warehouse, home)
    run_dbt(["run", "--vars", variables], warehouse, home)
    return warehouse


def rows(con, name: str) -> list[tuple]:
    """All rows, floats rounded: parallel aggregation may sum in another order."""
    return [
        tuple(round(v, 6) if isinstance(v, float) else v for v in row)
        for row in con.execute(f"select * from {name} order by all").fetchall()
    ]


def relations(con) -> list[str]:
    return [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where schema_name in ('intermediate', 'marts') order by 1, 2"
        ).fetchall()
    ]


@pytest.mark.timeout(900)
def test_as_of_run_equals_a_run_on_the_data_known_that_day(tmp_path):
    landing = tmp_path / "landing"
    generate(landing, customers=400, days=240, end_date=date(2026, 10, 31), seed=5)
    truncated = tmp_path / "truncated"
    kept = dropped = 0
    for path in landing.rglob("*.*"):
        if "_truth" in path.parts:
            continue
        match = FILE_DATE.search(path.name)
        if match and date.fromisoformat(match.group(1)) <= CUTOFF:
            target = truncated / path.relative_to(landing)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            kept += 1
        else:
            dropped += 1
    assert kept and dropped, "the cut must fall inside the generated history"

    full = build(tmp_path / "full", landing, CUTOFF)
    known = build(tmp_path / "known", truncated, CUTOFF)

    with (
        duckdb.connect(str(full), read_only=True) as full_con,
        duckdb.connect(str(known), read_only=True) as known_con,
    ):
        names = relations(full_con)
        assert names == relations(known_con)
        assert "marts.customer_churn" in names and "marts.retention_by_period" in names
        for name in names:
            assert rows(full_con, name) == rows(known_con, name), name
        # And the cut is real: the full warehouse holds later orders that were left out.
        later = full_con.execute(
            "select count(*) from raw.orders_orders where ordered_at >= ?",
            [CUTOFF + timedelta(days=1)],
        ).fetchone()[0]
        assert later > 0
