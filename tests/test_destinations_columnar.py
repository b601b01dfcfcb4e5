"""Rows hashed and files written column by column (destinations.rows.RowTable) are byte for
byte what the row-by-row definitions give — row_hash; csv.writer over csv_cell; json.dumps of
jsonable rows; pa.Table.from_pylist — on values chosen to be awkward."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from destinations import consent
from destinations.kinds.files import DIALECTS, FORMULA_START, _parquet_type, csv_cell
from destinations.rows import RowTable, jsonable, read_audience, row_hash
from destinations.sync import sync
from tests.destinations_support import make_config, warehouse

COLUMNS = [
    ("audience_name", "varchar"),
    ("audience_run_id", "varchar"),
    ("as_of_date", "date"),
    ("customer_id", "varchar"),
    ("note", "varchar"),
    ("score", "double"),
    ("ratio", "float"),
    ("amount", "decimal(12,2)"),
    ("tiny", "decimal(38,10)"),
    ("flag", "boolean"),
    ("small", "tinyint"),
    ("big", "ubigint"),
    ("day", "date"),
    ("seen_at", "timestamp"),
    ("huge", "hugeint"),
    ("tags", "varchar[]"),
    ("info", "struct(k varchar, n double)"),
    ("zoned", "timestamptz"),
    ("is_control", "boolean"),
    ("marketing_allowed", "boolean"),
    ("contact_allowed", "boolean"),
]
TEXTS = [
    *("", "plain", "a,b", "a;b", 'say "hi"', "line\nbreak", "cr\rlf", "\ttab", "=1+1"),
    *("+7 (915) 123", "-5", "@home", "back\\slash", "\x01", "Иванов", "Zhang 张", "Müller"),
    *("😀", "\u2028", None),
]
FLOATS = [0.1, -0.0, 0.0, 1e-05, 1e16, 123456789.123, float("nan"), float("inf"), None]
D = decimal.Decimal
VALUES = {
    "note": TEXTS,
    "score": FLOATS,
    "ratio": [0.1, -2.5, None],
    "amount": [D("0.00"), D("-0.50"), D("12.30"), D("9999999999.99"), None],
    "tiny": [D("0E-10"), D("1E-10"), D("-12.5000000000"), None],
    "flag": [True, False, None],
    "small": [-128, 127, None],
    "big": [0, 2**64 - 1, None],
    "day": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(2026, 1, 2), None],
    "seen_at": [dt.datetime(2026, 1, 2, 3, 4, 5), dt.datetime(2026, 1, 2, 3, 4, 5, 6), None],
    "huge": [12345678901234567890123, -5, None],
    "tags": [["a", 'b"', None], [], None],
    "info": [{"k": 'v"', "n": 1.5}, None],
    "zoned": [dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), None],
}


def write_odd_audience(con, run: int) -> None:
    """Run 1: 60 customers; run 2: some gone, some new, some changed."""
    ids = range(60) if run == 1 else [*(i for i in range(60) if i % 8 != 5), *range(60, 66)]
    rows = []
    for i in ids:
        row = {
            "audience_name": "odd",
            "audience_run_id": f"odd:2026-10-{29 + run}",
            "as_of_date": dt.date(2026, 10, 29 + run),
            "customer_id": ["C", "=C", "-C", 'C,"'][i % 4] + f"{i:03d}",
            "is_control": i % 10 == 9,
            "marketing_allowed": None if i % 7 == 0 else True,
            "contact_allowed": True,
        }
        for k, (column, values) in enumerate(VALUES.items()):
            row[column] = values[(i + k + (run == 2 and i % 3 == 0)) % len(values)]
        rows.append([row[c] for c, _ in COLUMNS])
    con.execute("create schema if not exists audiences")
    spec = ", ".join(f"{c} {t}" for c, t in COLUMNS)
    con.execute(f"create or replace table audiences.audience_odd ({spec})")
    con.executemany(
        f"insert into audiences.audience_odd values ({', '.join('?' for _ in COLUMNS)})", rows
    )
    # DuckDB's infinities fetch as Python's first/last date, not what Arrow holds: in run 1
    # these columns are written from the Python values, in run 2 (customer 5 gone) from Arrow.
    con.execute(
        "update audiences.audience_odd set day = 'infinity', seen_at = '-infinity' "
        "where customer_id like '%05'"
    )


def delivered(con, purpose: str) -> tuple[list[str], list[dict]]:
    data = read_audience(con, "odd", purpose)
    names = [c for c, _ in data.columns if c not in consent.CONSENT_COLUMNS]
    return names, [{c: row[c] for c in names} for row in data.rows]


def test_row_table_hashes_are_row_hash(tmp_path):
    con = warehouse(tmp_path)
    write_odd_audience(con, 1)
    data = read_audience(con, "odd", "sales")
    names, rows = delivered(con, "sales")
    columns = [(c, t) for c, t in data.columns if c in names]
    table = RowTable(
        columns, data.customer_ids, data.table, lambda c: [row[c] for row in data.rows]
    )
    assert table.arrow("day") is None and table.arrow("seen_at") is None, "infinities"
    assert table.arrow("huge") is None and table.arrow("note") is not None
    assert table.hashes() == [row_hash(row) for row in rows]


def csv_bytes(columns: list[str], rows: list[dict], dialect: str) -> bytes:
    spec = DIALECTS[dialect]
    encoding = "utf-8" if spec["encoding"] == "utf-8-sig" else spec["encoding"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=spec["delimiter"], lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        cells = [csv_cell(row.get(c), spec["decimal"]) for c in columns]
        if spec["guard"]:
            cells = [
                "'" + cell
                if isinstance(row.get(c), str) and cell.startswith(FORMULA_START)
                else cell
                for c, cell in zip(columns, cells, strict=True)
            ]
        writer.writerow(cells)
    bom = b"\xef\xbb\xbf" if spec["encoding"] == "utf-8-sig" else b""
    return bom + buffer.getvalue().encode(encoding, errors="replace")


def jsonl_bytes(columns: list[str], rows: list[dict]) -> bytes:
    lines = (json.dumps(jsonable({c: r.get(c) for c in columns}), ensure_ascii=False) for r in rows)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def parquet_bytes(columns: list[tuple[str, str]], rows: list[dict]) -> bytes:
    conversions = {c: _parquet_type(t) for c, t in columns}
    schema = pa.schema([(c, conversions[c][0]) for c, _ in columns])
    table = pa.Table.from_pylist(
        [{c: conversions[c][1](row.get(c)) for c, _ in columns} for row in rows], schema=schema
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("dialect", ["excel", "1c"])
def test_files_written_column_by_column_match_the_row_definitions(tmp_path, monkeypatch, dialect):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    con = warehouse(tmp_path)
    destination = {
        "name": "odd_files",
        "kind": "files",
        "purpose": "marketing",
        "audiences": ["odd"],
        "formats": ["csv", "parquet", "jsonl"],
        "csv_dialect": dialect,
    }
    config = make_config(tmp_path, [destination])
    before: dict[str, str] = {}
    for run in (1, 2):
        write_odd_audience(con, run)
        (result,) = sync(con, config)
        assert result.status == "success", result.error
        names, rows = delivered(con, "marketing")
        ids = [row["customer_id"] for row in rows]
        now = {cid: row_hash(row) for cid, row in zip(ids, rows, strict=True)}
        changes = sorted(
            [
                *(
                    ({"change": "removed", "audience_name": "odd", "customer_id": cid})
                    for cid in before.keys() - now.keys()
                ),
                *(
                    {"change": "added" if cid not in before else "changed", **row}
                    for cid, row in zip(ids, rows, strict=True)
                    if before.get(cid) != now[cid]
                ),
            ],
            key=lambda r: r["customer_id"],
        )
        assert run == 1 or {r["change"] for r in changes} == {"added", "changed", "removed"}
        folder = tmp_path / "exports" / "odd_files" / "odd"
        stem = f"odd_2026-10-{29 + run}"
        types = dict(read_audience(con, "odd", "marketing").columns)
        for suffix, cols, out in (("", names, rows), (".changes", ["change", *names], changes)):
            assert (folder / f"{stem}{suffix}.csv").read_bytes() == csv_bytes(cols, out, dialect)
            assert (folder / f"{stem}{suffix}.jsonl").read_bytes() == jsonl_bytes(cols, out)
            typed = [(c, types.get(c, "VARCHAR")) for c in cols]
            assert (folder / f"{stem}{suffix}.parquet").read_bytes() == parquet_bytes(typed, out)
        before = now
