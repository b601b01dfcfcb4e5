"""Where things live. Every path comes from an environment variable with a default under
``RETENTION_HOME`` (the current directory when unset), read when asked, never at import."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    home: Path
    landing: Path
    rejected: Path
    warehouse: Path
    work: Path
    bi: Path

    def ensure(self) -> Paths:
        for folder in (self.landing, self.rejected, self.warehouse.parent, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def paths() -> Paths:
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd())).resolve()
    data = Path(os.environ.get("RETENTION_DATA_DIR", home / "data"))
    return Paths(
        home=home,
        landing=Path(os.environ.get("RETENTION_LANDING_DIR", data / "landing")),
        rejected=Path(os.environ.get("RETENTION_REJECTED_DIR", data / "rejected")),
        warehouse=Path(os.environ.get("RETENTION_WAREHOUSE", data / "warehouse.duckdb")),
        work=Path(os.environ.get("RETENTION_WORK_DIR", data / "work")),
        # The BI read copy (never the file dbt writes): retention.duckdb and parquet/current/.
        bi=Path(os.environ.get("RETENTION_BI_DIR", data / "bi")),
    )


# The defaults of dbt_project/profiles.yml, so that dbt and every connection opened here agree.
DUCKDB_DEFAULT_THREADS = "2"
DUCKDB_DEFAULT_MEMORY_LIMIT = "8GB"


def duckdb_config(database: Path | None = None) -> dict[str, str]:
    """DuckDB settings for every connection the project opens to a file (the Warehouse
    resource, the BI copy, the bench), as dbt gets them from profiles.yml: RETENTION_DUCKDB_THREADS
    (default 2), RETENTION_DUCKDB_MEMORY_LIMIT (default 8GB) and RETENTION_DUCKDB_TEMP_DIRECTORY,
    where DuckDB spills past the limit (default `<database>.tmp`, `database` being the warehouse
    unless given). dbt also turns preserve_insertion_order off; these connections keep it, since
    the loader numbers rows in file order.

    DuckDB refuses a second connection to an open file with different settings: connect to the
    warehouse through this (or `Warehouse.connect`), not with a bare `duckdb.connect`."""
    database = database or paths().warehouse
    return {
        "threads": os.environ.get("RETENTION_DUCKDB_THREADS") or DUCKDB_DEFAULT_THREADS,
        "memory_limit": os.environ.get("RETENTION_DUCKDB_MEMORY_LIMIT")
        or DUCKDB_DEFAULT_MEMORY_LIMIT,
        "temp_directory": os.environ.get("RETENTION_DUCKDB_TEMP_DIRECTORY") or f"{database}.tmp",
    }


# Great Expectations re-checks every row the SQL rules flag and a deterministic sample of the
# others: this many per started million rows of a load group (ingestion/CONTRACT.md).
GX_DEFAULT_SAMPLE_ROWS = 25_000


def gx_sample_rows() -> int | None:
    """RETENTION_GX_SAMPLE_ROWS: the clean rows Great Expectations re-checks per started
    million rows of a load group, beside every flagged row (default 25,000); `all` or `0`
    re-checks every row."""
    value = (os.environ.get("RETENTION_GX_SAMPLE_ROWS") or "").strip().lower()
    if not value:
        return GX_DEFAULT_SAMPLE_ROWS
    if value == "all":
        return None
    try:
        rows = int(value)
    except ValueError:
        raise ValueError(
            f"RETENTION_GX_SAMPLE_ROWS must be a whole number or 'all', not {value!r}"
        ) from None
    if rows < 0:
        raise ValueError(f"RETENTION_GX_SAMPLE_ROWS must not be negative, not {rows}")
    return rows or None


def gx_sample_size(rows: int) -> int | None:
    """The clean rows Great Expectations re-checks in a load group of `rows` rows:
    `gx_sample_rows()` per started million (None: every row)."""
    per_million = gx_sample_rows()
    return per_million and per_million * max(1, math.ceil(rows / 1_000_000))
