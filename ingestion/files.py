"""Sniffing landed files: format, encoding, delimiter and header, before DuckDB reads them.

Only the first line and a streaming pass over the bytes happen in Python; rows are parsed by
DuckDB. A file that fails here is unreadable and gets rejected whole.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1 << 20
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUFFIXES = CSV_SUFFIXES | JSON_SUFFIXES | PARQUET_SUFFIXES
DELIMITERS = (";", "\t", ",")


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why."""


@dataclass
class Sniffed:
    path: Path
    sha256: str
    size: int
    format: str  # csv | jsonl | parquet
    encoding: str | None = None  # utf-8 | utf-8-sig | cp1251 (csv/jsonl)
    delimiter: str | None = None
    header: list[str] = field(default_factory=list)  # as written in the file
    delivered_on: date | None = None  # the day the file belongs to (delivery_date)

    @property
    def decimal_comma(self) -> bool:
        # A `;` or tab separated export leaves the comma free to be the decimal mark (1C, Excel ru).
        return self.format == "csv" and self.delimiter != ","


DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def delivery_date(path: Path) -> date:
    """The day a file belongs to: the date in its name (`orders_2026-10-31.csv`,
    `orders_20261031.csv`), else the day it was last modified (UTC). Daily partitions of the
    raw tables and the incremental staging models are cut by this day."""
    for match in DATE_IN_NAME.finditer(path.stem):
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            continue
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def normalise_header(name: str) -> str:
    """`" Customer ID"` → `customer_id`: tolerant of case, spaces, BOM and punctuation."""
    name = name.replace("\ufeff", "").strip().lower()
    return re.sub(r"[^0-9a-zа-яё]+", "_", name).strip("_")


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    return "csv"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def detect_encoding(path: Path) -> str:
    """utf-8-sig when a BOM is present, utf-8 when every byte decodes, else cp1251.

    The whole file is checked in chunks: an ASCII first megabyte says nothing about the
    Cyrillic names further down.
    """
    with path.open("rb") as handle:
        head = handle.read(CHUNK)
        if b"\x00" in head:
            raise UnreadableFile("binary content (NUL bytes): not a text export")
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = handle.read(CHUNK)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            pass
    try:
        decoder = codecs.getincrementaldecoder("cp1251")()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"text is neither UTF-8 nor cp1251 ({exc.reason})") from exc
    return "cp1251"


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> Path:
    """Stream a cp1251 file into UTF-8: DuckDB reads UTF-8 only without extra extensions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        path.open("r", encoding=encoding, newline="") as source,
        target.open("w", encoding="utf-8", newline="") as sink,
    ):
        while chunk := source.read(CHUNK):
            sink.write(chunk)
    return target


def sniff_delimiter(first_line: str) -> str:
    counts = {d: _count_unquoted(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best] == 0:
        raise UnreadableFile("no delimiter found in the header line (tried ; tab ,)")
    return best


def _count_unquoted(line: str, char: str) -> int:
    inside, count = False, 0
    for c in line:
        if c == '"':
            inside = not inside
        elif c == char and not inside:
            count += 1
    return count


def sniff(path: Path) -> Sniffed:
    size = path.stat().st_size
    sniffed = Sniffed(
        path=path,
        sha256=sha256_of(path),
        size=size,
        format=file_format(path),
        delivered_on=delivery_date(path),
    )
    if size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    if sniffed.format == "parquet":
        # The footer holds the schema every later step reads: a file without a readable one
        # (truncated, or not Parquet at all) is rejected here, not mid-load.
        try:
            with pq.ParquetFile(path) as parquet:
                sniffed.header = parquet.schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFile(f"not a readable Parquet file ({exc})") from exc
        return sniffed
    sniffed.encoding = detect_encoding(path)
    if sniffed.format == "jsonl":
        return sniffed
    with path.open("r", encoding=sniffed.encoding, newline="") as handle:
        first_line = handle.readline().rstrip("\r\n")
    if not first_line.strip():
        raise UnreadableFile("the first line is blank: no header")
    sniffed.delimiter = sniff_delimiter(first_line)
    sniffed.header = next(csv.reader(io.StringIO(first_line), delimiter=sniffed.delimiter))
    return sniffed
