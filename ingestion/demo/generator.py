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
# Dirty rows (`dirty` > 0): the mistakes real exports carry, one per dirty row. Each is
# (kind, column, the bad value as SQL with `{value}` for the clean typed value, whether that
# SQL is already the file's text rather than a typed value to render). Text-only kinds (an
# impossible date) skip typed Parquet. The comments give the loader's reason; warn means the
# row loads and is reported. None of them can get a file rejected.
DIRTY_KINDS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    "crm_customers": (
        ("blank_name", "name", "NULL", False),  # missing:name
        ("impossible_date", "created_at", "'2025-02-30 10:00:00'", True),  # type:created_at
        (
            "malformed_email",
            "email",
            "coalesce(replace(src.email, '@', ' at '), 'n/a')",
            False,
        ),  # warn
        ("unknown_channel", "acquisition_channel", "'tv_ad'", False),  # allowed:…
        ("future_date", "updated_at", "{value} + INTERVAL 10 YEAR", False),  # future:updated_at
    ),
    "crm_activities": (
        ("unknown_type", "activity_type", "'fax'", False),  # allowed:activity_type
        ("impossible_date", "occurred_at", "'31.04.2025 12:00:00'", True),  # type:occurred_at
        ("blank_customer", "customer_id", "NULL", False),  # missing:customer_id
    ),
    "orders_orders": (
        ("negative_amount", "total_amount", "-({value})", False),  # negative:total_amount
        ("unknown_status", "status", "'shipped'", False),  # allowed:status
        ("future_date", "updated_at", "{value} + INTERVAL 10 YEAR", False),  # future:updated_at
        ("impossible_date", "ordered_at", "'2025-02-30 10:00:00'", True),  # type:ordered_at
    ),
    "orders_order_lines": (
        ("unknown_order", "order_id", "printf('O%09d', src.order_id + 900000000)", False),  # warn
        ("zero_quantity", "quantity", "CAST(0 AS DECIMAL(18,3))", False),  # range:quantity
        ("negative_price", "unit_price", "-({value})", False),  # negative:unit_price
    ),
    "support_tickets": (
        # order:opened_at_before_closed_at
        ("closed_early", "closed_at", "CAST(src.opened_at AS TIMESTAMP) - INTERVAL 1 DAY", False),
        ("satisfaction_7", "satisfaction_score", "7", False),  # range:satisfaction_score
        ("unknown_status", "status", "'escalated'", False),  # allowed:status
        ("impossible_date", "opened_at", "'2025-02-30T10:00:00'", True),  # type:opened_at
    ),
}


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
    dirty: float = 0.0,
) -> dict[str, int]:
    """Write the demo sources under `out_dir`; returns file rows written per raw table.

    `dirty` is the share of rows (0 to 0.05, deterministic for a seed) that carry one typical
    export mistake each (DIRTY_KINDS): a negative amount, an unknown status, an impossible date,
    a date ten years ahead, a ticket closed before it was opened, a satisfaction of 7, a blank
    required field, an order line of an unknown order, a malformed e-mail. Never so many, nor of
    a kind, that a whole file is rejected."""
    if locale not in LOCALES:
        raise ValueError(f"locale must be one of {LOCALES}, got {locale!r}")
    if orders_format not in ORDERS_FORMATS:
        raise ValueError(f"orders_format must be one of {ORDERS_FORMATS}, got {orders_format!r}")
    if tickets_format not in TICKETS_FORMATS:
        raise ValueError(f"tickets_format must be one of {TICKETS_FORMATS}, got {tickets_format!r}")
    if customers < 1 or days < 1 or chunk_size < 1:
        raise ValueError("customers, days and chunk_size must be positive")
    if not 0.0 <= dirty <= 0.05:
        raise ValueError(f"dirty must be between 0 and 0.05, got {dirty!r}")

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
    counts, distinct, files, dirty_rows = {}, {}, {}, {}
    try:
        for entity in contract.ENTITIES:
            fmt = formats.get(entity.source, "csv")
            ru = locale == "ru" and entity.source in RU_STYLE_SOURCES
            kinds = _dirty_kinds(entity, fmt) if dirty > 0 else ()
            counts[entity.table], distinct[entity.table], files[entity.table] = _export(
                con, work, out_dir, entity, fmt, ru, kinds, _dirty_threshold(dirty, seed)
            )
            if kinds:
                dirty_rows[entity.table] = _dirty_counts(
                    con, work, entity, kinds, _dirty_threshold(dirty, seed)
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
            "dirty": dirty,
        },
        "rows": counts,
        "distinct_keys": distinct,
        "files": files,
        "managers": len(world.manager_group),
    }
    if dirty > 0:
        manifest["dirty_rows"] = dirty_rows
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


def _rendered(col: Column, fmt: str, ru: bool, value: str | None = None) -> str:
    """SQL for a column (or a `value` of its type) as the file shows it."""
    value = _typed(col) if value is None else value
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


def _dirty_kinds(entity: Entity, fmt: str) -> tuple[tuple[str, str, str, bool], ...]:
    """The entity's dirty kinds its file format can carry (typed Parquet holds no bad text)."""
    return tuple(k for k in DIRTY_KINDS.get(entity.table, ()) if not (k[3] and fmt == "parquet"))


def _dirty_threshold(dirty: float, seed: int) -> tuple[int, int]:
    return round(dirty * 1_000_000), seed


def _source(parts: Path, entity: Entity, kinds, threshold: tuple[int, int]) -> str:
    """The simulated rows; with dirty kinds, `_dirty` picks a kind for a deterministic share of
    rows (by a hash of the key, the day and the seed), else it is null."""
    scan = f"read_parquet('{_sql_path(parts)}/*.parquet')"
    if not kinds:
        return f"{scan} AS src"
    share, seed = threshold
    row = ", ".join([*entity.key, "day", str(seed)])
    return (
        f"(SELECT *, CASE WHEN hash({row}) % 1000000 < {share} "
        f"THEN hash({row}, 'kind') % {len(kinds)} END AS _dirty FROM {scan}) AS src"
    )


def _dirty_counts(con, work: Path, entity: Entity, kinds, threshold) -> dict[str, int]:
    source = _source(work / "parts" / entity.table, entity, kinds, threshold)
    rows = dict(con.execute(f"SELECT _dirty, count(*) FROM {source} GROUP BY 1").fetchall())
    return {kind[0]: rows.get(i, 0) for i, kind in enumerate(kinds)}


def _column_sql(col: Column, fmt: str, ru: bool, kinds) -> str:
    """A column as the file shows it, with the dirty kinds that touch it."""
    clean = _rendered(col, fmt, ru)
    bad = [(i, k) for i, k in enumerate(kinds) if k[1] == col.name]
    if not bad:
        return clean
    text = fmt == "csv"  # every branch as text, the way the CSV shows it
    branches = []
    for i, (_, _, sql, is_text) in bad:
        value = (
            sql if is_text else _rendered(col, fmt, ru, f"({sql})".replace("{value}", _typed(col)))
        )
        branches.append(f"WHEN {i} THEN " + (f"CAST({value} AS VARCHAR)" if text else value))
    cases = " ".join(branches)
    otherwise = f"CAST({clean} AS VARCHAR)" if text else clean
    return f"CASE src._dirty {cases} ELSE {otherwise} END"


def _export(
    con,
    work: Path,
    out_dir: Path,
    entity: Entity,
    fmt: str,
    ru: bool,
    kinds=(),
    threshold: tuple[int, int] = (0, 0),
) -> tuple[int, int, int]:
    """Write one file per day for an entity; returns (rows, distinct keys, files)."""
    parts = work / "parts" / entity.table
    if not any(parts.glob("*.parquet")):
        return 0, 0, 0
    source = _source(parts, entity, kinds, threshold)
    rows, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT ({', '.join(entity.key)})) FROM {source}"
    ).fetchall()[0]
    target = out_dir / entity.source / entity.name
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob(f"{entity.name}_*.*"):
        old.unlink()  # a previous run's files would otherwise mix in
    if fmt == "jsonl":
        return rows, distinct, _write_jsonl(con, entity, source, target, kinds)

    select = ", ".join(f"{_column_sql(c, fmt, ru, kinds)} AS {c.name}" for c in entity.columns)
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


def _write_jsonl(con, entity: Entity, source: str, target: Path, kinds=()) -> int:
    """Stream JSON lines rendered by DuckDB, sorted, into one file per day."""
    fields = ", ".join(
        f"{c.name} := {_column_sql(c, 'jsonl', False, kinds)}" for c in entity.columns
    )
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
