"""Run the real dbt project against a test warehouse, in a subprocess like Dagster does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"


def run_dbt(
    args: list[str],
    warehouse: Path,
    scratch: Path,
    target: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """`target` defaults to `<scratch>/dbt_target`; `check=False` returns a failed run."""
    env = {**os.environ, "RETENTION_WAREHOUSE": str(warehouse)}
    command = [
        str(DBT),
        *args,
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(target or scratch / "dbt_target"),
        "--log-path",
        str(scratch / "logs"),
    ]
    done = subprocess.run(
        command, cwd=DBT_PROJECT, env=env, capture_output=True, text=True, timeout=600
    )
    if check and done.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
    return done
