"""Resources: where the warehouse and landing folder are, and how dbt is invoked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from importlib import metadata
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from ingestion import settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
# Every step that writes the DuckDB warehouse takes a slot in this pool; dagster.yaml limits
# it to one, so a UI-launched run and a scheduled one never write at the same time.
DUCKDB_WRITER = "duckdb_writer"


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file dbt and ingestion write. Paths default to `ingestion.settings`, which
    reads RETENTION_* environment variables when the resource is used, not at import."""

    crm_postgres_dsn: str | None = None

    def paths(self) -> settings.Paths:
        return settings.paths().ensure()

    def postgres_dsn(self) -> str | None:
        """The CRM's PostgreSQL, when configured; read when used, never at import."""
        return self.crm_postgres_dsn or os.environ.get("RETENTION_CRM_POSTGRES_DSN") or None

    @contextmanager
    def connect(self, read_only: bool = False):
        """A connection sized by `settings.duckdb_config()` (RETENTION_DUCKDB_*), as dbt is."""
        warehouse = self.paths().warehouse
        con = duckdb.connect(
            str(warehouse), read_only=read_only, config=settings.duckdb_config(warehouse)
        )
        try:
            yield con
        finally:
            con.close()


def dbt_project(project_dir: Path = DBT_PROJECT_DIR) -> DbtProject:
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


PARTIAL_PARSE = "partial_parse.msgpack"


@contextmanager
def dbt_environment(
    parse_state: str | None = None,
    target_root: Path | None = None,
    state_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[Path | None]:
    """dbt runs as a subprocess that inherits this environment: hand it the absolute warehouse
    path (and `env`) for the duration of the call, and put back what was there (no leak into
    the process).

    Tests are selected `buildable`: a step runs a test only when every model it reads is built
    by that step or upstream of it, so the staging step never runs a mart's relationship test
    (dbt's default, eager, would, before the mart exists). dbt unit tests check SQL logic, not
    data: they run in CI (`make test`), not in every production build, as dbt recommends
    (DBT_EXCLUDE_RESOURCE_TYPES= brings them back). dbt.log keeps warnings and errors
    (DBT_LOG_LEVEL_FILE, default `warn`): Dagster already records dbt's info events, and the
    debug file log, one line per query and connection, cost ~3 s of a 23 s build at SF 1
    (DBT_LOG_LEVEL_FILE=debug brings it back).

    With `parse_state`, yields a fresh target folder for the invocation (in `target_root`,
    default the project's target/), seeded with the partial-parse file the last invocation of
    that name left in `state_dir` (default `<work>/dbt-parse-state`): dagster-dbt gives every
    run a new target folder, so dbt would re-parse the whole project each time (~5 s). dbt
    itself discards the file when the project, profile, vars or its version changed."""
    paths = settings.paths().ensure()
    scoped = {
        "RETENTION_WAREHOUSE": str(paths.warehouse),
        "DBT_INDIRECT_SELECTION": os.environ.get("DBT_INDIRECT_SELECTION", "buildable"),
        "DBT_EXCLUDE_RESOURCE_TYPES": os.environ.get("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test"),
        "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "warn"),
        **(env or {}),
    }
    previous = {name: os.environ.get(name) for name in scoped}
    os.environ.update(scoped)
    target = saved = None
    if parse_state is not None:
        saved = (state_dir or paths.work / "dbt-parse-state") / f"{parse_state}.msgpack"
        target = (
            target_root or DBT_PROJECT_DIR / "target"
        ) / f"{parse_state}-{uuid.uuid4().hex[:12]}"
        target.mkdir(parents=True)
        if saved.exists():
            shutil.copyfile(saved, target / PARTIAL_PARSE)
    try:
        yield target
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if target is not None and (target / PARTIAL_PARSE).exists():
            saved.parent.mkdir(parents=True, exist_ok=True)
            partial = saved.with_suffix(f".{target.name}.tmp")
            shutil.copyfile(target / PARTIAL_PARSE, partial)
            os.replace(partial, saved)


def dbt_executable() -> str:
    """The dbt of this environment, found without an activated venv: beside the interpreter,
    under its prefix (`dagster dev` may start code servers through a resolved path), on PATH,
    or in the project's own .venv."""
    candidates = [
        Path(sys.executable).parent / "dbt",
        Path(sys.prefix) / "bin" / "dbt",
        Path(shutil.which("dbt") or "/nonexistent"),
        DBT_PROJECT_DIR.parent / ".venv" / "bin" / "dbt",
    ]
    return str(next((c for c in candidates if c.exists()), "dbt"))


def ensure_manifest(project_dir: Path) -> bool:
    """Re-parse dbt when a model, macro, seed, test or the project file is newer than the
    manifest (what `make manifest` does), so a model an analyst just added shows up without a
    Python change and a run never streams events the loaded manifest does not know.
    Returns whether it parsed."""
    manifest = project_dir / "target" / "manifest.json"
    sources = [
        path
        for folder in ("models", "macros", "seeds", "tests")
        for path in (project_dir / folder).rglob("*")
        if path.is_file()
    ] + [project_dir / "dbt_project.yml"]
    if manifest.exists() and manifest.stat().st_mtime >= max(p.stat().st_mtime for p in sources):
        return False
    subprocess.run(
        [dbt_executable(), "parse", "--profiles-dir", str(project_dir), "--quiet"],
        cwd=project_dir,
        check=True,
        env={**os.environ, "RETENTION_WAREHOUSE": str(settings.paths().warehouse)},
    )
    return True


class RetentionDbtCli(DbtCliResource):
    """dagster-dbt's resource less two start-up costs this project never uses, ~4 s of every
    dbt step: `dbt --version` in a subprocess to learn the version (it also asks PyPI for the
    latest release: a network call at run time; this environment's dbt-core is the one
    `dbt_executable` runs), and a dbt adapter built in the Dagster process, which dagster-dbt
    needs only for `fetch_row_counts`/`fetch_column_metadata`; the dbt assets read row counts
    themselves once dbt has exited (`row_counts`), as DuckDB requires. Both are private
    methods of dagster-dbt 0.29: tests/test_dbt_runtime.py fails if an upgrade bypasses them."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None


def dbt_resource(project: DbtProject) -> DbtCliResource:
    return RetentionDbtCli(
        project_dir=project, profiles_dir=str(project.profiles_dir), dbt_executable=dbt_executable()
    )
