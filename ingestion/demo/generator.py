"""Demo-data generator: daily source extracts of a believable retail business.

Customers are simulated in chunks (``simulate.py``); every chunk's rows go to intermediate
Parquet files, and DuckDB then sorts each entity and writes one file per day in the source's
format:

    out_dir/<source>/<name>/<name>_<YYYY-MM-DD>.<ext>

The file of day d holds every record created or changed that day, as the source shows it at the
end of that day. ``out_dir/_truth`` keeps the latent truth the data was drawn from.
"""

from __future__ import annotations

import codecs
import itertools
import json
import os
import shutil
from datetime import date
from operator import itemgetter
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import contract
from ingestion.contract import Column, Entity
from ingestion.demo import simulate
from ingestion.demo.names import LOCALES

ORDERS_FORMATS = ("csv", "parquet")
TICKETS_FORMATS = ("csv", "jsonl")

# Integer ids in the simulation -> the source's id strings.
ID_FORMATS = {
    "customer_id": "C%07d",
    "referred_by_customer_id": "C%07d",
    "manager_id": "M%04d",
    "order_id": "O%09d",
    "activity_id": "A%09d",
    "ticket_id": "T%08d",
    "product_id": "SKU-%05d",
}
# Amounts are simulated in integer minor units: column -> decimal places (as the source prints).
SCALES = {"total_amount": 2, "discount_amount": 2, "unit_price": 2, "unit_cost": 4, "quantity": 3}
# Total order of the rows inside a daily file, so output is reproducible.
SORT_KEYS = {
    "crm_customers": ("updated_at", "customer_id"),
    "crm_managers": ("updated_at", "manager_id"),
    "crm_activities": ("occurred_at", "activity_id"),
    "orders_orders": ("updated_at", "order_id"),
    "orders_order_lines": ("order_id", "line_number"),
    "support_tickets": ("updated_at", "ticket_id"),
}
TIMESTAMP_FORMATS = {
    "csv": "%Y-%m-%d %H:%M:%S",
    "jsonl": "%Y-%m-%dT%H:%M:%S",
    "ru": "%d.%m.%Y %H:%M:%S",
}
# Sources exported the Bitrix24/amoCRM/1C way in the ru locale; the helpdesk stays UTF-8.
RU_STYLE_SOURCES = ("crm", "orders")


def generate(
    out_dir: Path,
    customers: int = 20_000,
    days: int = 730,
    end_date: date = date(2026, 10, 31),
    seed: int = 42,
    locale: str = "en",
    orders_format: str = "csv",
    tickets_format: str = "csv",
    chunk_size: int = 50_000,
) -> dict[str, int]:
    """Write the demo sources under `out_dir`; returns file rows written per raw table."""
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {LOCALES}, got {locale!r}")
    if orders_format not in ORDERS_FORMATS:
        raise ValueError(f"orders_format must be one of {ORDERS_FORMATS}, got {orders_format!r}")
    if tickets_format not in TICKETS_FORMATS:
        raise ValueError(f"tickets_format must be one of {TICKETS_FORMATS}, got {tickets_format!r}")
    if customers < 1 or days < 1 or chunk_size < 1:
        raise ValueError("customers, days and chunk_size must be positive")

    out_dir = Path(out_dir)
    work = out_dir / "_work"
    shutil.rmtree(work, ignore_errors=True)
    truth_dir = out_dir / "_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)

    world = simulate.World(customers, days, end_date, seed, locale)
    ids = simulate.Counters()
    _write_part(work, contract.MANAGERS.table, 0, world.managers_table())
    truth_path = truth_dir / "customers_truth.parquet"
    truth_writer = None
    try:
        for chunk_no, first in enumerate(range(0, customers, chunk_size)):
            chunk = simulate.simulate_chunk(
                world, chunk_no, first, min(chunk_size, customers - first), ids
            )
            for table, data in chunk.tables.items():
                _write_part(work, table, chunk_no, data)
            if truth_writer is None:
                truth_writer = pq.ParquetWriter(truth_path, chunk.truth.schema)
            truth_writer.write_table(chunk.truth)
    finally:
        if truth_writer is not None:
            truth_writer.close()

    formats = {"orders": orders_format, "support": tickets_format}
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{_sql_path(work / 'spill')}'")
    con.execute("SET memory_limit = '2GB'")
    con.execute("SET enable_progress_bar = false")
    counts, distinct, files = {}, {}, {}
    try:
        for entity in contract.ENTITIES:
            fmt = formats.get(entity.source, "csv")
            ru = locale == "ru" and entity.source in RU_STYLE_SOURCES
            counts[entity.table], distinct[entity.table], files[entity.table] = _export(
                con, work, out_dir, entity, fmt, ru
            )
    finally:
        con.close()

    manifest = {
        "parameters": {
            "customers": customers,
            "days": days,
            "start_date": world.start.isoformat(),
            "end_date": end_date.isoformat(),
            "seed": seed,
            "locale": locale,
            "orders_format": orders_format,
            "tickets_format": tickets_format,
            "chunk_size": chunk_size,
            "currency": world.currency,
        },
        "rows": counts,
        "distinct_keys": distinct,
        "files": files,
        "managers": len(world.manager_group),
    }
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(work)
    return counts


def _write_part(work: Path, table: str, chunk_no: int, data: pa.Table) -> None:
    folder = work / "parts" / table
    folder.mkdir(parents=True, exist_ok=True)
    # A fixed schema, so a chunk where a column happens to be all null still reads as one table.
    pq.write_table(
        data.cast(_part_schema(contract.BY_TABLE[table])), folder / f"{chunk_no:05d}.parquet"
    )


def _part_schema(entity: Entity) -> pa.Schema:
    """Types of the simulated rows: ids and amounts as integers (minor units), plus the day."""
    types = {"TIMESTAMP": pa.timestamp("s"), "BOOLEAN": pa.bool_(), "INTEGER": pa.int32()}
    fields = [
        pa.field(
            c.name,
            pa.int64()
            if c.name in ID_FORMATS or c.name in SCALES
            else types.get(c.type, pa.string()),
        )
        for c in entity.columns
    ]
    return pa.schema([*fields, pa.field("day", pa.date32())])


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _typed(col: Column) -> str:
    """SQL for a column's value with its contract meaning (id strings, decimal amounts)."""
    ref = f"src.{col.name}"
    if col.name in ID_FORMATS:
        return f"printf('{ID_FORMATS[col.name]}', {ref})"
    if col.name in SCALES:
        scale = SCALES[col.name]
        return f"CAST({ref} / {10**scale} AS DECIMAL(18,{scale}))"
    if col.type == "TIMESTAMP":
        return f"CAST({ref} AS TIMESTAMP)"
    return ref


def _rendered(col: Column, fmt: str, ru: bool) -> str:
    """SQL for a column as the file shows it."""
    value = _typed(col)
    if fmt == "parquet":
        return f"CAST({value} AS {col.type})"
    if col.type == "TIMESTAMP":
        return f"strftime({value}, '{TIMESTAMP_FORMATS['ru' if ru else fmt]}')"
    if fmt == "jsonl":
        return value
    if col.type == "BOOLEAN":
        yes, no = ("да", "нет") if ru else ("true", "false")
        return f"CASE WHEN {value} THEN '{yes}' WHEN NOT {value} THEN '{no}' END"
    if col.name in SCALES and ru:
        return f"replace(CAST({value} AS VARCHAR), '.', ',')"
    return value


def _export(
    con, work: Path, out_dir: Path, entity: Entity, fmt: str, ru: bool
) -> tuple[int, int, int]:
    """Write one file per day for an entity; returns (rows, distinct keys, files)."""
    parts = work / "parts" / entity.table
    if not any(parts.glob("*.parquet")):
        return 0, 0, 0
    source = f"read_parquet('{_sql_path(parts)}/*.parquet') AS src"
    rows, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT ({', '.join(entity.key)})) FROM {source}"
    ).fetchall()[0]
    target = out_dir / entity.source / entity.name
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob(f"{entity.name}_*.*"):
        old.unlink()  # a previous run's files would otherwise mix in
    if fmt == "jsonl":
        return rows, distinct, _write_jsonl(con, entity, source, target)

    select = ", ".join(f"{_rendered(c, fmt, ru)} AS {c.name}" for c in entity.columns)
    if fmt == "csv":
        options = f"FORMAT csv, HEADER, DELIMITER '{';' if ru else ','}'"
    else:
        options = "FORMAT parquet"
    staged = work / "out" / entity.table
    staged.parent.mkdir(parents=True, exist_ok=True)
    # A sorted partitioned write: one file per day, rows in a total order, so the same input
    # always gives the same bytes. Rendered timestamps sort right because a file holds one day.
    con.execute(
        f"COPY (SELECT {select}, src.day FROM {source}) TO '{_sql_path(staged)}' "
        f"({options}, PARTITION_BY (day), ORDER_BY ({', '.join(SORT_KEYS[entity.table])}))"
    )
    n_files = 0
    for folder in sorted(staged.iterdir()):
        day = folder.name.removeprefix("day=")
        (produced,) = folder.iterdir()
        dest = target / f"{entity.name}_{day}.{fmt}"
        if fmt == "csv" and ru:
            _transcode(produced, dest, "cp1251")
        else:
            os.replace(produced, dest)
        n_files += 1
    shutil.rmtree(staged)
    return rows, distinct, n_files


def _write_jsonl(con, entity: Entity, source: str, target: Path) -> int:
    """Stream JSON lines rendered by DuckDB, sorted, into one file per day."""
    fields = ", ".join(f"{c.name} := {_rendered(c, 'jsonl', False)}" for c in entity.columns)
    keys = ", ".join(f"src.{k}" for k in SORT_KEYS[entity.table])
    reader = con.sql(
        f"SELECT strftime(src.day, '%Y-%m-%d') AS day, to_json(struct_pack({fields})) AS line "
        f"FROM {source} ORDER BY src.day, {keys}"
    ).to_arrow_reader(100_000)
    days: set[str] = set()
    for batch in reader:
        rows = zip(batch.column("day").to_pylist(), batch.column("line").to_pylist(), strict=True)
        # Sorted by day: a day's rows come in one run, split at most across batch boundaries.
        for day, group in itertools.groupby(rows, key=itemgetter(0)):
            with open(target / f"{entity.name}_{day}.jsonl", "a", encoding="utf-8") as out:
                out.writelines(f"{line}\n" for _, line in group)
            days.add(day)
    return len(days)


def _transcode(src: Path, dest: Path, encoding: str, block: int = 1 << 20) -> None:
    """Re-encode DuckDB's UTF-8 output block by block (strict: every character must fit)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while data := fin.read(block):
            fout.write(decoder.decode(data).encode(encoding))
        fout.write(decoder.decode(b"", final=True).encode(encoding))
    src.unlink()
