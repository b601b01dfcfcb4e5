"""One entry point per entity: every source that feeds a raw table, loaded the same way."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import duckdb

from ingestion import loader, postgres_source
from ingestion.contract import Entity
from ingestion.settings import Paths


def ingest_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    paths: Paths,
    crm_postgres_dsn: str | None = None,
    window: loader.Window | None = None,
    *,
    validate: bool = True,
) -> list[loader.FileResult]:
    """Load new landing files of `entity` (those delivered in `window`, when given), then (for
    CRM entities) a snapshot of the CRM's PostgreSQL table when a DSN is given. Content already
    loaded is skipped by its sha256. A snapshot belongs to the window's last day (else today):
    it is the state the run for that day saw. `validate=False` skips Great Expectations (the
    rules still quarantine rows in SQL)."""
    files = loader.discover(paths.landing, entity, window)
    items = [(p, p.relative_to(paths.landing).as_posix()) for p in files]
    results = loader.load_files(con, entity, items, rejected=paths.rejected, validate=validate)
    if crm_postgres_dsn and entity.source == "crm":
        with tempfile.TemporaryDirectory(prefix="retention-pg-", dir=paths.work) as scratch:
            exported = postgres_source.export_tables(
                crm_postgres_dsn, Path(scratch), entities=[entity]
            )
            pg_items = [
                (path, postgres_source.source_label(crm_postgres_dsn, entity.name))
                for _, path in exported
            ]
            snapshot_day = (window.last if window else None) or date.today()
            results += loader.load_files(
                con,
                entity,
                pg_items,
                rejected=paths.rejected,
                delivered_on=snapshot_day,
                validate=validate,
            )
    return results
