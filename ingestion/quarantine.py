"""What is in `raw.quarantine`: rows held back with their original values and every reason,
and the warn-severity findings Great Expectations reported without holding rows back.

The CLI (`retention quarantine list|summary`) and the run summary only print what this returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingestion.contract import entity as lookup_entity
from ingestion.loader import BATCH_VALIDATION, QUARANTINE


@dataclass(frozen=True)
class QuarantinedRow:
    entity: str
    source_file: str
    row_number: int | None  # record number in the file; None for a line that did not parse
    line_number: int | None
    reasons: list[str]
    record: dict
    quarantined_at: object


def _exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def normalise_entity(name: str | None) -> str | None:
    """`crm_customers`, `crm.customers` → `crm.customers` (the form the tables store)."""
    return None if name is None else lookup_entity(name).qualified_name


def list_rows(con, entity: str | None = None, limit: int = 20) -> list[QuarantinedRow]:
    """The latest quarantined rows, newest batch first (optionally of one entity)."""
    if not _exists(con, QUARANTINE):
        return []
    qualified = normalise_entity(entity)
    rows = con.execute(
        f"""select entity, source_file, row_number, line_number, reasons, record, quarantined_at
        from {QUARANTINE} where ? is null or entity = ?
        order by batch_id desc, coalesce(row_number, line_number) limit ?""",
        [qualified, qualified, limit],
    ).fetchall()
    return [
        QuarantinedRow(e, f, rn, ln, list(reasons), json.loads(record) if record else {}, at)
        for e, f, rn, ln, reasons, record, at in rows
    ]


def summary(con) -> list[tuple[str, str, int]]:
    """(entity, reason, rows) over the whole quarantine; a row with two reasons counts under
    both."""
    if not _exists(con, QUARANTINE):
        return []
    return con.execute(
        f"""select entity, reason, count(*) as n
        from (select entity, unnest(reasons) as reason from {QUARANTINE})
        group by all order by entity, n desc, reason"""
    ).fetchall()


def totals(con) -> list[tuple[str, int]]:
    """(entity, quarantined rows)."""
    if not _exists(con, QUARANTINE):
        return []
    return con.execute(
        f"select entity, count(*) from {QUARANTINE} group by all order by entity"
    ).fetchall()


def warnings(con) -> list[tuple[str, str, int]]:
    """(entity, reason, rows): warn-severity findings of GX (loaded, not quarantined)."""
    if not _exists(con, BATCH_VALIDATION):
        return []
    return con.execute(
        f"""select entity, reason, sum(unexpected_count) as n from {BATCH_VALIDATION}
        where severity = 'warn' and unexpected_count > 0
        group by all order by entity, n desc, reason"""
    ).fetchall()


def format_list(rows: list[QuarantinedRow]) -> str:
    if not rows:
        return "No quarantined rows."
    out = []
    for row in rows:
        where = f"row {row.row_number}" if row.row_number is not None else f"line {row.line_number}"
        out.append(f"{row.entity}  {row.source_file}  {where}")
        out.append(f"  reasons: {', '.join(row.reasons)}")
        values = ", ".join(f"{k}={_short(v)!r}" for k, v in row.record.items() if v is not None)
        out.append(f"  record:  {values}")
    return "\n".join(out)


def _short(value, limit: int = 80):
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def format_summary(con) -> str:
    by_reason = summary(con)
    lines = []
    if not by_reason:
        lines.append("No quarantined rows.")
    else:
        total = dict(totals(con))
        lines.append(f"{'entity':<22}{'reason':<48}{'rows':>10}")
        for entity, reason, n in by_reason:
            lines.append(f"{entity:<22}{reason:<48}{n:>10,}")
        lines.append("")
        lines += [f"{e:<22}{'(rows quarantined)':<48}{n:>10,}" for e, n in total.items()]
    warned = warnings(con)
    if warned:
        lines += ["", "Reported, not quarantined (warn):"]
        lines += [f"{e:<22}{reason:<48}{n:>10,}" for e, reason, n in warned]
    return "\n".join(lines)
