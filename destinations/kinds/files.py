"""``files``: CSV, Parquet and JSONL in a folder, written atomically with a manifest.

Each delivery of an audience writes into ``<folder>/<destination>/<audience>/``, where
``folder`` is the ``folder`` option (relative to ``RETENTION_EXPORT_DIR``, or absolute) and
defaults to ``RETENTION_EXPORT_DIR`` (``$RETENTION_HOME/data/exports``):

* ``<stem>.<ext>`` — the **full** audience as the destination may see it, every time;
* ``<stem>.changes.<ext>`` — what changed since the destination's last successful delivery:
  a first column ``change`` (``added`` | ``changed`` | ``removed``), then the row; a removed
  row carries only ``audience_name`` and ``customer_id`` (no contact data of a customer who
  left the audience, e.g. withdrew consent);
* ``<stem>.manifest.json`` — written last: run id, as-of date, mode, schema (column, DuckDB
  type), row counts and, per file, its name, format, rows, bytes and SHA-256.

``<stem>`` is the run id made file-safe (``win_back:2026-10-31`` → ``win_back_2026-10-31``).
Every file is first written under a temporary name in the same folder and renamed into place
only when all of them are complete (``os.replace``, atomic on one filesystem); the manifest
is renamed last, so a manifest always describes complete files.

CSV dialects: ``excel`` (default) — UTF-8 with BOM so Excel opens Cyrillic correctly, ``,``,
CRLF, and text starting with ``= + - @`` prefixed with ``'`` so Excel shows it instead of
evaluating it (phones like ``+7 (915) …``; formula injection); ``1c`` — cp1251, ``;``, CRLF and
decimal commas, values as they are, for 1C:Enterprise imports. Characters cp1251 cannot encode
become ``?`` and the manifest counts the rows affected. Parquet and JSONL carry values as is.

The files are made column by column from the delivery's :class:`destinations.rows.RowTable`:
Arrow compute turns each column into its cells and joins them into lines, byte for byte what
``csv.writer``, ``json.dumps`` and ``pa.Table.from_pylist`` made of the row dicts, which are
still what a column of any other type is written from.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import hashlib
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from destinations.config import export_dir
from destinations.kinds.base import Kind, Outcome, Plan
from destinations.rows import (
    BATCH_ROWS,
    RowTable,
    any_byte,
    isoformat_texts,
    join_rows,
    json_object_parts,
    json_strings,
    jsonable,
    text_buffers,
)

FORMATS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}
DIALECTS = {
    "excel": {"delimiter": ",", "encoding": "utf-8-sig", "decimal": ".", "guard": True},
    "1c": {"delimiter": ";", "encoding": "cp1251", "decimal": ",", "guard": False},
    "plain": {"delimiter": ",", "encoding": "utf-8", "decimal": ".", "guard": False},  # no BOM
}
# Excel runs a cell that starts with one of these as a formula ("+7 (915) …" → #NAME?, and
# "=HYPERLINK(…)" typed into a CRM would be live): such text gets a leading apostrophe.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_DIALECTS = ("excel", "1c")


def file_stem(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip("._") or "delivery"


def delivery_folder(folder: str | None, destination: str, audience: str) -> Path:
    root = export_dir()
    base = root if not folder else (Path(folder) if Path(folder).is_absolute() else root / folder)
    return base / destination / audience


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class AtomicFiles:
    """Write several files under temporary names, then rename them all into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[tuple[Path, Path]] = []  # (temp, final)

    def path(self, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        temp = self.folder / f".{name}.{uuid.uuid4().hex[:12]}.tmp"
        self.pending.append((temp, final))
        return temp

    def write(self, name: str, writer: Callable[[Path], None]) -> Path:
        temp = self.path(name)
        writer(temp)
        with temp.open("rb") as fh:
            os.fsync(fh.fileno())
        return temp

    def commit(self) -> list[Path]:
        done = []
        for temp, final in self.pending:
            os.replace(temp, final)
            done.append(final)
        self.pending = []
        with contextlib.suppress(OSError):  # make the renames durable where supported
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return done

    def abort(self) -> None:
        for temp, _ in self.pending:
            temp.unlink(missing_ok=True)
        self.pending = []


# -- cell and type conventions --------------------------------------------------------------


def csv_cell(value: Any, decimal_sep: str = ".") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal | float):
        text = format(value, "f") if isinstance(value, decimal.Decimal) else repr(value)
        return text.replace(".", decimal_sep)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return str(value)


def _cell(value: Any, spec: Mapping[str, Any]) -> str:
    """csv_cell, with the dialect's Excel formula guard."""
    cell = csv_cell(value, spec["decimal"])
    if spec["guard"] and isinstance(value, str) and cell.startswith(FORMULA_START):
        cell = "'" + cell
    return cell


def _char_class(chars: Iterable[str]) -> str:
    """An RE2 character class of exactly ``chars``."""
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def _quote(cells: pa.Array, delimiter: str) -> pa.Array:
    """Cells as csv.writer (QUOTE_MINIMAL) writes them: a cell holding the delimiter, a quote,
    CR or LF in quotes, its quotes doubled."""
    special = (delimiter, '"', "\r", "\n")
    if not any_byte(cells, "".join(special).encode()):
        return cells
    quote = pc.match_substring_regex(cells, _char_class(special))
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")
    return pc.if_else(quote, quoted, cells)


def _csv_python(values: list[Any], spec: Mapping[str, Any]) -> pa.Array:
    return _quote(pa.array([_cell(v, spec) for v in values], pa.string()), spec["delimiter"])


def _csv_strings(strings: pa.Array, spec: Mapping[str, Any]) -> pa.Array:
    """_cell of each string (null: empty), quoted."""
    if spec["guard"]:
        formula = pc.match_substring_regex(strings, "^" + _char_class(FORMULA_START))
        strings = pc.if_else(formula, pc.binary_join_element_wise("'", strings, ""), strings)
    return _quote(pc.fill_null(strings, ""), spec["delimiter"])


def _decimal_texts(decimals: pa.Array) -> pa.Array:
    """format(value, "f") of each Decimal: Arrow's text, except where it uses an exponent
    ("0E-10"), which has the same digits and exponent as the Decimal."""
    texts = decimals.cast(pa.string())
    exponent = pc.fill_null(pc.match_substring(texts, "E"), False)
    if pc.any(exponent).as_py():
        plain = [format(decimal.Decimal(t), "f") for t in texts.filter(exponent).to_pylist()]
        texts = pc.replace_with_mask(texts, exponent, pa.array(plain, pa.string()))
    return texts


def _csv_cells(table: RowTable, name: str, spec: Mapping[str, Any]) -> pa.Array:
    """_cell of each value of a column, quoted."""
    arrow = table.arrow(name)
    if arrow is None:
        return _csv_python(table.values(name), spec)
    category, array = arrow
    if category == "str":
        return _csv_strings(array, spec)
    if category in ("float", "decimal"):  # repr(float) and format(Decimal, "f")
        cells = table.float_texts(name) if category == "float" else _decimal_texts(array)
        if spec["decimal"] != ".":
            cells = pc.replace_substring(cells, ".", spec["decimal"])
    elif category in ("date", "timestamp"):
        cells = isoformat_texts(array)
    else:  # bool, int: Arrow writes true/false and digits, as Python does
        cells = array.cast(pa.string())
    return _quote(pc.fill_null(cells, ""), spec["delimiter"])


def _write_lines(fh: BinaryIO, lines: pa.Array, encoding: str) -> int:
    """Write ``lines`` in ``encoding``; returns how many hold characters it cannot encode
    (written as ``?``)."""
    offsets, data = text_buffers(lines)
    text = data[offsets[0] : offsets[-1]]
    if encoding == "utf-8":  # Arrow text is UTF-8 already
        fh.write(text)
        return 0
    try:
        fh.write(str(text, "utf-8").encode(encoding))
        return 0
    except UnicodeEncodeError:  # line by line, to count the rows affected
        replaced = 0
        for line in lines.to_pylist():
            try:
                fh.write(line.encode(encoding))
            except UnicodeEncodeError:
                fh.write(line.encode(encoding, errors="replace"))
                replaced += 1
        return replaced


def _write_csv(
    path: Path, header: list[str], cells: list[pa.Array], rows: int, spec: Mapping[str, Any]
) -> dict[str, int]:
    if len(cells) == 1:  # csv.writer writes a row of one empty cell as ""
        cells = [pc.if_else(pc.equal(cells[0], ""), '""', cells[0])]
    parts: list[str | pa.Array] = []
    for i, column in enumerate(cells):
        parts += [spec["delimiter"], column] if i else [column]
    parts.append("\r\n")
    encoding = "utf-8" if spec["encoding"] == "utf-8-sig" else spec["encoding"]
    head = io.StringIO()
    csv.writer(head, delimiter=spec["delimiter"], lineterminator="\r\n").writerow(header)
    replaced = 0
    with path.open("wb") as fh:
        if spec["encoding"] == "utf-8-sig":
            fh.write(b"\xef\xbb\xbf")
        fh.write(head.getvalue().encode(encoding, errors="replace"))
        for start in range(0, rows, BATCH_ROWS):
            lines = join_rows(parts, start, min(rows, start + BATCH_ROWS))
            replaced += _write_lines(fh, lines, encoding)
    return {"rows": rows, "encoding_replacements": replaced}


def write_csv(
    path: Path,
    columns: list[str],
    rows: Iterable[Mapping[str, Any]],
    dialect: str = "excel",
) -> dict[str, int]:
    """Write ``rows`` as CSV; returns ``{"rows": n, "encoding_replacements": rows_affected}``."""
    spec = DIALECTS[dialect]
    rows = list(rows)
    cells = [_csv_python([row.get(c) for row in rows], spec) for c in columns]
    return _write_csv(path, columns, cells, len(rows), spec)


def _write_jsonl(path: Path, parts: list[str | pa.Array], rows: int) -> dict[str, int]:
    with path.open("wb") as fh:
        for start in range(0, rows, BATCH_ROWS):
            _write_lines(fh, join_rows(parts, start, min(rows, start + BATCH_ROWS)), "utf-8")
    return {"rows": rows}


_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(),
    "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "UUID": pa.string(),
    "JSON": pa.string(),
}


def arrow_type(duckdb_type: str) -> pa.DataType | None:
    t = duckdb_type.strip().upper()
    if t.endswith("[]"):
        inner = arrow_type(t[:-2])
        return pa.list_(inner) if inner is not None else None
    match = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if match:
        return pa.decimal128(int(match[1]), int(match[2]))
    return _ARROW_TYPES.get(t)


def _parquet_type(duckdb_type: str) -> tuple[pa.DataType, Callable[[Any], Any]]:
    """The Parquet column type of a DuckDB type, and how a Python value is converted to it."""
    if duckdb_type.upper() in ("HUGEINT", "UHUGEINT"):  # 128-bit integers: exact as decimals
        return pa.decimal128(38, 0), lambda v: None if v is None else decimal.Decimal(v)
    typ = arrow_type(duckdb_type)
    if typ is None:  # anything exotic travels as JSON text
        return pa.string(), lambda v: None if v is None else json.dumps(jsonable(v))
    return typ, lambda v: str(v) if isinstance(v, uuid.UUID) else v


def write_parquet(path: Path, names: list[str], arrays: list[pa.Array], rows: int) -> dict:
    pq.write_table(pa.Table.from_arrays(arrays, names=names), path, compression="zstd")
    return {"rows": rows}


def write_manifest(files: AtomicFiles, name: str, manifest: dict[str, Any]) -> None:
    def write(path: Path) -> None:
        path.write_text(
            json.dumps(jsonable(manifest), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    files.write(name, write)


def describe(temp: Path, final_name: str, fmt: str, stats: Mapping[str, int]) -> dict[str, Any]:
    return {
        "name": final_name,
        "format": fmt,
        **stats,
        "bytes": temp.stat().st_size,
        "sha256": sha256_file(temp),
    }


def base_manifest(plan: Plan, kind: str) -> dict[str, Any]:
    return {
        "destination": plan.destination.name,
        "kind": kind,
        "purpose": plan.destination.purpose,
        "audience": plan.audience,
        "run_id": plan.run_id,
        "as_of_date": plan.as_of_date,
        "mode": plan.mode,
        "row_count": len(plan.current),
        "changes": {
            "added": len(plan.added),
            "changed": len(plan.changed),
            "removed": len(plan.removed),
        },
        "schema": [{"name": c, "type": t} for c, t in plan.columns],
    }


class FilesKind(Kind):
    name = "files"
    options: ClassVar[frozenset[str]] = frozenset({"formats", "csv_dialect", "folder"})
    dagster_kinds: ClassVar[frozenset[str]] = frozenset({"csv", "parquet", "python"})

    @classmethod
    def validate(cls, purpose, options) -> None:
        super().validate(purpose, options)
        formats = options.get("formats", ["csv"])
        if (
            not isinstance(formats, list)
            or not formats
            or not set(formats) <= set(FORMATS)
            or len(set(formats)) != len(formats)
        ):
            raise ValueError(f"formats must be a non-empty list of {sorted(FORMATS)}")
        if options.get("csv_dialect", "excel") not in CSV_DIALECTS:
            raise ValueError(f"csv_dialect must be one of {list(CSV_DIALECTS)}")
        if "folder" in options and not isinstance(options["folder"], str):
            raise ValueError("folder must be a path")

    @property
    def formats(self) -> list[str]:
        return list(self.destination.options.get("formats", ["csv"]))

    def folder(self, audience: str) -> Path:
        return delivery_folder(
            self.destination.options.get("folder"), self.destination.name, audience
        )

    def location(self) -> str:
        return str(self.folder("<audience>").parent)

    def deliver(self, plan: Plan) -> Outcome:
        folder = self.folder(plan.audience)
        stem = file_stem(plan.run_id)
        dialect = self.destination.options.get("csv_dialect", "excel")
        columns = plan.columns
        names = [c for c, _ in columns]
        table = plan.table
        if table is None:  # a subclass shaping rows itself: written from the row dicts
            rows = [row for _, row in plan.current]
            table = RowTable(
                columns, [cid for cid, _ in plan.current], None, lambda c: [r.get(c) for r in rows]
            )
        changes = _Changes(plan, table)
        files = AtomicFiles(folder)
        described = []
        try:
            for fmt in self.formats:
                if fmt == "csv":
                    writers = _csv_writers(table, changes, DIALECTS[dialect])
                elif fmt == "parquet":
                    writers = _parquet_writers(table, changes)
                else:
                    writers = _jsonl_writers(table, changes)
                for suffix, write in zip(("", ".changes"), writers, strict=True):
                    name = f"{stem}{suffix}.{FORMATS[fmt]}"
                    stats: dict[str, int] = {}
                    temp = files.write(
                        name, lambda path, write=write, stats=stats: stats.update(write(path))
                    )
                    described.append(describe(temp, name, fmt, stats))
            manifest = base_manifest(plan, self.name) | {
                "csv_dialect": dialect if "csv" in self.formats else None,
                "columns": names,
                "files": described,
            }
            write_manifest(files, f"{stem}.manifest.json", manifest)
            written = files.commit()
        except BaseException:
            files.abort()
            raise
        return Outcome(
            location=str(folder),
            files=[str(p) for p in written],
            details={"folder": str(folder), "manifest": str(folder / f"{stem}.manifest.json")},
        )


class _Changes:
    """The rows of a ``.changes`` file, by customer_id: the change, the row of the full table
    each repeats (null when removed) and the keys a removed customer still carries."""

    def __init__(self, plan: Plan, table: RowTable) -> None:
        changes = plan.changes
        position = {cid: i for i, cid in enumerate(table.ids)}
        self.change = pa.array([c.change for c in changes], pa.string())
        self.rows = pa.array(
            [None if c.change == "removed" else position[c.customer_id] for c in changes],
            pa.int64(),
        )
        self.removed = pc.is_null(self.rows)
        gone = [c.customer_id for c in changes if c.change == "removed"]
        self.keys = {"audience_name": [plan.audience] * len(gone), "customer_id": gone}

    def __len__(self) -> int:
        return len(self.change)

    def take(
        self, column: pa.Array, name: str, encode: Callable[[list[str]], pa.Array]
    ) -> pa.Array:
        """``column`` (values or their text) for each change; in a removed row the key as
        ``encode`` makes it, null otherwise."""
        taken = column.take(self.rows)
        if self.keys.get(name):
            taken = pc.replace_with_mask(taken, self.removed, encode(self.keys[name]))
        return taken


Writers = tuple[Callable[[Path], dict[str, int]], Callable[[Path], dict[str, int]]]


def _csv_writers(table: RowTable, changes: _Changes, spec: Mapping[str, Any]) -> Writers:
    """(full file, changes file) writers; a column's cells are made once for both."""
    cells = [_csv_cells(table, name, spec) for name in table.names]
    change_cells = [_csv_strings(changes.change, spec)] + [
        pc.fill_null(changes.take(c, name, lambda keys: _csv_python(keys, spec)), "")
        for name, c in zip(table.names, cells, strict=True)
    ]
    return (
        lambda path: _write_csv(path, table.names, cells, len(table), spec),
        lambda path: _write_csv(path, ["change", *table.names], change_cells, len(changes), spec),
    )


def _jsonl_writers(table: RowTable, changes: _Changes) -> Writers:
    texts = [table.json(name) for name in table.names]

    def encode(keys: list[str]) -> pa.Array:
        return json_strings(pa.array(keys, pa.string()))

    full = json_object_parts(list(zip(table.names, texts, strict=True)))
    change = json_object_parts(
        [("change", json_strings(changes.change))]
        + [
            (name, pc.fill_null(changes.take(t, name, encode), "null"))
            for name, t in zip(table.names, texts, strict=True)
        ]
    )
    full[-1] += "\n"
    change[-1] += "\n"
    return (
        lambda path: _write_jsonl(path, full, len(table)),
        lambda path: _write_jsonl(path, change, len(changes)),
    )


def _parquet_writers(table: RowTable, changes: _Changes) -> Writers:
    arrays, change_arrays = [], [changes.change]
    for name, duckdb_type in table.columns:
        typ, convert = _parquet_type(duckdb_type)
        arrow = table.arrow(name)
        if arrow is not None:
            array = arrow[1].cast(typ)
        else:
            array = pa.array([convert(v) for v in table.values(name)], typ)
        arrays.append(array)
        change_arrays.append(
            changes.take(
                array, name, lambda keys, t=typ, f=convert: pa.array([f(k) for k in keys], t)
            )
        )
    return (
        lambda path: write_parquet(path, table.names, arrays, len(table)),
        lambda path: write_parquet(path, ["change", *table.names], change_arrays, len(changes)),
    )
