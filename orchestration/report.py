"""The run summary: rows per layer, ledger and quarantine counts, where things are."""

from __future__ import annotations

from pathlib import Path

import duckdb

from destinations.config import export_dir
from ingestion import quarantine
from ingestion.contract import ENTITIES
from ingestion.freshness import source_freshness
from ingestion.settings import Paths

LAYERS = ("raw", "staging", "intermediate", "marts", "audiences")


def layer_counts(warehouse: Path) -> dict[str, dict[str, int]]:
    """Row counts of every table and view, by schema (layer); read-only."""
    counts: dict[str, dict[str, int]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        relations = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() "
            "union all select schema_name, view_name from duckdb_views() "
            "where not internal and database_name = current_database() order by 1, 2"
        ).fetchall()
        for schema, name in relations:
            n = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            counts.setdefault(schema, {})[name] = n
    return counts


def row_counts(warehouse: Path, keys) -> dict:
    """Rows of each relation named by an asset key [schema, name] that exists; read-only."""
    counts = {}
    if not warehouse.exists():
        return counts
    with duckdb.connect(str(warehouse), read_only=True) as con:
        existing = {
            (schema, name)
            for schema, name in con.execute(
                "select schema_name, table_name from duckdb_tables() union all "
                "select schema_name, view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        for key in keys:
            if len(key.path) == 2 and tuple(key.path) in existing:
                schema, name = key.path
                counts[key] = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
    return counts


def ledger_counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select status, count(*) from raw.load_ledger group by status order by status"
        ).fetchall()
    return dict(rows)


def quarantine_counts(warehouse: Path) -> list[tuple[str, str, int]]:
    """(entity, reason, rows) in quarantine; read-only."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return quarantine.summary(con)


def delivery_counts(con) -> list[tuple]:
    """The latest sync of each destination × audience, from the delivery log."""
    exists = con.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'audiences' and table_name = 'sync_log'"
    ).fetchone()[0]
    if not exists:
        return []
    return con.execute(
        "select destination, audience_name, status, rows_total from ("
        "select *, row_number() over (partition by destination, audience_name "
        "order by finished_at desc) as recency from audiences.sync_log) "
        "where recency = 1 order by destination, audience_name"
    ).fetchall()


def render(paths: Paths) -> str:
    if not paths.warehouse.exists():
        return f"No warehouse yet at {paths.warehouse}: run `retention run` (or `make demo`)."
    counts = layer_counts(paths.warehouse)
    ledger = ledger_counts(paths.warehouse)
    held = quarantine_counts(paths.warehouse)
    raw = counts.get("raw", {})
    lines = ["", "Retention platform — run summary", ""]
    lines.append(f"{'entity':<22}{'raw rows':>12}{'staging rows':>14}")
    staging = counts.get("staging", {})
    for entity in ENTITIES:
        stg = staging.get(f"stg_{entity.source}__{entity.name}")
        stg_text = f"{stg:,}" if stg is not None else "-"
        lines.append(f"{entity.qualified_name:<22}{raw.get(entity.table, 0):>12,}{stg_text:>14}")
    lines.append("")
    for layer in LAYERS[2:]:
        if layer in counts:
            total = sum(counts[layer].values())
            lines.append(f"{layer:<22}{len(counts[layer]):>4} relations {total:>12,} rows")
    files = ", ".join(f"{n} {status}" for status, n in ledger.items()) or "none"
    lines.append(f"files in the load ledger: {files}")
    lines.append(f"rows in quarantine: {raw.get('quarantine', 0):,}")
    for entity, reason, n in held:
        lines.append(f"  {entity:<20}{reason:<44}{n:>10,}")
    if held:
        lines.append(
            "  (a row with several reasons counts under each; `retention quarantine list`)"
        )
    lines += ["", "source freshness (last delivery with rows):"]
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for report in source_freshness(con):
            age = f"{report.age_hours:.0f} h ago" if report.age_hours is not None else "never"
            flag = "STALE" if report.is_stale else "ok"
            lines.append(
                f"  {report.entity:<20}{age:>14}  (expected within "
                f"{report.expected_within_hours} h)  {flag}"
            )
        deliveries = delivery_counts(con)
    if deliveries:
        lines += ["", "audiences delivered (latest run per destination):"]
        for destination, audience, status, total in deliveries:
            lines.append(f"  {destination:<22}{audience:<17}{status:<18}{total or 0:>8,} rows")
    bi_copy = paths.bi / "retention.duckdb"
    lines += [
        "",
        f"landing   {paths.landing}",
        f"rejected  {paths.rejected}",
        f"warehouse {paths.warehouse}",
        f"BI copy   {bi_copy if bi_copy.exists() else 'not published yet'}",
        f"exports   {export_dir()}",
        "",
        "UI: `make ui` (dagster dev) then open http://127.0.0.1:3000",
        "",
    ]
    return "\n".join(lines)
