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
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from destinations.config import export_dir
from destinations.kinds.base import Kind, Outcome, Plan
from destinations.rows import jsonable

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


def write_csv(
    path: Path,
    columns: list[str],
    rows: Iterable[Mapping[str, Any]],
    dialect: str = "excel",
) -> dict[str, int]:
    """Write ``rows`` as CSV; returns ``{"rows": n, "encoding_replacements": rows_affected}``."""
    spec = DIALECTS[dialect]
    n = replaced = 0
    with path.open("wb") as fh:
        if spec["encoding"] == "utf-8-sig":
            fh.write(b"\xef\xbb\xbf")
        encoding = "utf-8" if spec["encoding"] == "utf-8-sig" else spec["encoding"]
        buffer = io.StringIO()
        out = csv.writer(buffer, delimiter=spec["delimiter"], lineterminator="\r\n")

        def flush_line(cells: list[str]) -> bool:
            buffer.seek(0)
            buffer.truncate()
            out.writerow(cells)
            line = buffer.getvalue()
            try:
                fh.write(line.encode(encoding))
                return False
            except UnicodeEncodeError:
                fh.write(line.encode(encoding, errors="replace"))
                return True

        flush_line(columns)
        for row in rows:
            cells = []
            for c in columns:
                value = row.get(c)
                cell = csv_cell(value, spec["decimal"])
                if spec["guard"] and isinstance(value, str) and cell.startswith(FORMULA_START):
                    cell = "'" + cell
                cells.append(cell)
            replaced += flush_line(cells)
            n += 1
    return {"rows": n, "encoding_replacements": replaced}


def write_jsonl(path: Path, columns: list[str], rows: Iterable[Mapping[str, Any]]) -> dict:
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(jsonable({c: row.get(c) for c in columns}), ensure_ascii=False))
            fh.write("\n")
            n += 1
    return {"rows": n}


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


def write_parquet(
    path: Path, columns: list[tuple[str, str]], rows: Iterable[Mapping[str, Any]]
) -> dict:
    fields, converters = [], []
    for name, duck in columns:
        typ = arrow_type(duck)
        if duck.upper() in ("HUGEINT", "UHUGEINT"):  # 128-bit integers: exact as decimals
            fields.append(pa.field(name, pa.decimal128(38, 0)))
            converters.append(lambda v: None if v is None else decimal.Decimal(v))
        elif typ is None:  # anything exotic travels as JSON text
            fields.append(pa.field(name, pa.string()))
            converters.append(lambda v: None if v is None else json.dumps(jsonable(v)))
        else:
            fields.append(pa.field(name, typ))
            converters.append(lambda v: str(v) if isinstance(v, uuid.UUID) else v)
    schema = pa.schema(fields)
    data = [
        {name: conv(row.get(name)) for (name, _), conv in zip(columns, converters, strict=True)}
        for row in rows
    ]
    pq.write_table(pa.Table.from_pylist(data, schema=schema), path, compression="zstd")
    return {"rows": len(data)}


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
        full_rows = [row for _, row in plan.current]
        change_columns = [("change", "VARCHAR"), *columns]
        change_rows = [
            {"change": c.change, **c.row}
            if c.row is not None
            else {"change": c.change, "audience_name": plan.audience, "customer_id": c.customer_id}
            for c in plan.changes
        ]
        files = AtomicFiles(folder)
        described = []
        try:
            for fmt in self.formats:
                for suffix, cols, rows in (
                    ("", columns, full_rows),
                    (".changes", change_columns, change_rows),
                ):
                    name = f"{stem}{suffix}.{FORMATS[fmt]}"
                    col_names = [c for c, _ in cols]
                    stats: dict[str, int] = {}

                    def writer(
                        path, fmt=fmt, cols=cols, col_names=col_names, rows=rows, stats=stats
                    ):
                        if fmt == "csv":
                            stats.update(write_csv(path, col_names, rows, dialect))
                        elif fmt == "parquet":
                            stats.update(write_parquet(path, cols, rows))
                        else:
                            stats.update(write_jsonl(path, col_names, rows))

                    temp = files.write(name, writer)
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
