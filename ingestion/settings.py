"""Where things live. Every path comes from an environment variable with a default under
``RETENTION_HOME`` (the current directory when unset), read when asked, never at import."""

from __future__ import annotations

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
