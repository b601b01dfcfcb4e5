"""The `files` kind for real: CSV (Excel and 1C dialects), Parquet, JSONL, atomic delivery,
manifests, diffs across runs, re-runs that send nothing, and the default export folder."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest

from destinations import kinds
from destinations.sync import sync
from tests.destinations_support import (
    CONSENT_MIX,
    D1,
    D2,
    MARKETING_IDS,
    SALES_IDS,
    customer,
    make_config,
    sync_log,
    warehouse,
    write_audience,
)


def files_destination(name="marketing_files", purpose="marketing", **options):
    return {
        "name": name,
        "kind": "files",
        "purpose": purpose,
        "audiences": ["win_back"],
        "formats": ["csv", "parquet", "jsonl"],
        **options,
    }


@pytest.fixture
def exports(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(folder))
    return folder


def read_csv(path, encoding="utf-8-sig", delimiter=","):
    text = path.read_bytes().decode(encoding)
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_full_files_in_three_formats_with_a_manifest(tmp_path, exports):
    con = warehouse(tmp_path)
    mix = [r if r["customer_id"] != "C04" else {**r, "customer_name": "=1+1"} for r in CONSENT_MIX]
    write_audience(con, "win_back", mix)
    (result,) = sync(con, make_config(tmp_path, [files_destination()]))
    assert result.status == "success"
    assert (result.rows_total, result.rows_added) == (len(MARKETING_IDS), len(MARKETING_IDS))
    folder = exports / "marketing_files" / "win_back"
    stem = "win_back_2026-10-30"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            f"{stem}.csv",
            f"{stem}.changes.csv",
            f"{stem}.parquet",
            f"{stem}.changes.parquet",
            f"{stem}.jsonl",
            f"{stem}.changes.jsonl",
            f"{stem}.manifest.json",
        ]
    ), "every file in place, no temporary file left"

    raw = (folder / f"{stem}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM so Excel reads Cyrillic"
    rows = read_csv(folder / f"{stem}.csv")
    assert {r["customer_id"] for r in rows} == MARKETING_IDS
    assert "is_control" not in rows[0] and "marketing_allowed" not in rows[0]
    assert rows[0]["days_since_last_purchase"] == "120"  # the audience's extras travel too
    ivan = next(r for r in rows if r["customer_id"] == "C07")
    assert (ivan["customer_name"], ivan["company"]) == ("Иванов Иван", 'ООО "Ромашка"')
    # Text Excel would evaluate is shown as text: phones starting with "+", formulas.
    assert next(r for r in rows if r["customer_id"] == "C01")["phone"] == "'+44 20 7946 0958"
    assert next(r for r in rows if r["customer_id"] == "C04")["customer_name"] == "'=1+1"
    assert ivan["phone"] == "8 (915) 123-45-67"

    table = pq.read_table(folder / f"{stem}.parquet")
    assert sorted(table.column("customer_id").to_pylist()) == sorted(MARKETING_IDS)
    first = table.to_pylist()[0]
    assert first["as_of_date"] == D1
    assert first["priority_score"] == decimal.Decimal("0.5000")

    lines = (folder / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["customer_id"] for r in records} == MARKETING_IDS
    assert records[0]["as_of_date"] == "2026-10-30" and records[0]["priority_score"] == 0.5
    assert records[0]["phone"] == "+44 20 7946 0958", "only the Excel CSV guards formulas"

    manifest = json.loads((folder / f"{stem}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == "win_back:2026-10-30"
    assert manifest["as_of_date"] == "2026-10-30"
    assert manifest["row_count"] == len(MARKETING_IDS)
    assert manifest["changes"] == {"added": len(MARKETING_IDS), "changed": 0, "removed": 0}
    assert {"name": "priority_score", "type": "DECIMAL(10,4)"} in manifest["schema"]
    assert len(manifest["files"]) == 6
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
        assert entry["rows"] == len(MARKETING_IDS)

    # The sync is logged and the export folder is reported.
    (log,) = sync_log(con)
    assert (log["status"], log["rows_added"], log["mode"]) == ("success", 4, "diff")
    assert log["location"] == str(folder)


def test_1c_dialect_is_semicolon_cp1251_with_decimal_commas(tmp_path, exports):
    con = warehouse(tmp_path)
    rows = [*CONSENT_MIX, customer("C10", customer_name="Zhang 张")]
    write_audience(con, "win_back", rows)
    destination = files_destination(
        name="managers", purpose="sales", formats=["csv"], csv_dialect="1c"
    )
    (result,) = sync(con, make_config(tmp_path, [destination]))
    assert result.status == "success"
    path = exports / "managers" / "win_back" / "win_back_2026-10-30.csv"
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert "Иванов Иван".encode("cp1251") in raw
    assert b"\r\n" in raw
    parsed = read_csv(path, encoding="cp1251", delimiter=";")
    assert {r["customer_id"] for r in parsed} == SALES_IDS | {"C10"}
    assert parsed[0]["priority_score"] == "0,5000"
    assert parsed[0]["phone"] == "+44 20 7946 0958"
    assert next(r for r in parsed if r["customer_id"] == "C10")["customer_name"] == "Zhang ?"
    manifest = json.loads(path.with_name("win_back_2026-10-30.manifest.json").read_text())
    full = next(f for f in manifest["files"] if f["name"].endswith("30.csv"))
    assert full["encoding_replacements"] == 1


def test_two_runs_deliver_exactly_the_changes(tmp_path, exports):
    con = warehouse(tmp_path)
    config = make_config(tmp_path, [files_destination(formats=["csv"])])
    write_audience(con, "win_back", [customer("A"), customer("B"), customer("C")], as_of=D1)
    sync(con, config)
    # A unchanged (only the as-of date moved), B changed, C left, D arrived.
    write_audience(
        con,
        "win_back",
        [customer("A"), customer("B", priority_score=decimal.Decimal("0.9")), customer("D")],
        as_of=D2,
    )
    (result,) = sync(con, config)
    assert (result.rows_added, result.rows_changed, result.rows_removed) == (1, 1, 1)
    assert result.rows_total == 3
    folder = exports / "marketing_files" / "win_back"
    changes = read_csv(folder / "win_back_2026-10-31.changes.csv")
    assert [(r["change"], r["customer_id"]) for r in changes] == [
        ("changed", "B"),
        ("removed", "C"),
        ("added", "D"),
    ]
    removed = changes[1]
    assert removed["email"] == "" and removed["customer_name"] == "", "no contact data of C"
    assert {r["customer_id"] for r in read_csv(folder / "win_back_2026-10-31.csv")} == {
        "A",
        "B",
        "D",
    }
    logs = sync_log(con)
    assert [(r["run_id"], r["rows_added"], r["rows_changed"], r["rows_removed"]) for r in logs] == [
        ("win_back:2026-10-30", 3, 0, 0),
        ("win_back:2026-10-31", 1, 1, 1),
    ]
    state = con.execute(
        "select customer_id, run_id from audiences.destination_state order by 1"
    ).fetchall()
    assert state == [
        ("A", "win_back:2026-10-31"),
        ("B", "win_back:2026-10-31"),
        ("D", "win_back:2026-10-31"),
    ]


def test_rerun_of_the_same_run_id_sends_nothing(tmp_path, exports):
    con = warehouse(tmp_path)
    config = make_config(tmp_path, [files_destination()])
    write_audience(con, "win_back", CONSENT_MIX)
    sync(con, config)
    folder = exports / "marketing_files" / "win_back"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    (again,) = sync(con, config)
    assert again.status == "already_delivered"
    assert (again.rows_added, again.rows_changed, again.rows_removed) == (0, 0, 0)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    assert after == before
    assert [r["status"] for r in sync_log(con)] == ["success", "already_delivered"]


def test_full_mode_has_its_own_run_id_and_files(tmp_path, exports):
    con = warehouse(tmp_path)
    config = make_config(tmp_path, [files_destination(formats=["jsonl"])])
    write_audience(con, "win_back", CONSENT_MIX)
    sync(con, config)
    (full,) = sync(con, config, full=True)
    assert (full.status, full.run_id, full.mode) == ("success", "win_back:2026-10-30:full", "full")
    assert (full.rows_added, full.rows_changed, full.rows_removed) == (0, 0, 0)
    folder = exports / "marketing_files" / "win_back"
    lines = (folder / "win_back_2026-10-30_full.jsonl").read_text().splitlines()
    assert len(lines) == len(MARKETING_IDS)
    (tagged,) = sync(con, config, run_tag="resend")
    assert tagged.run_id == "win_back:2026-10-30:resend" and tagged.status == "success"


def test_a_failed_write_leaves_no_file_and_no_state(tmp_path, exports, monkeypatch):
    con = warehouse(tmp_path)
    config = make_config(tmp_path, [files_destination()], attempts=2)
    write_audience(con, "win_back", CONSENT_MIX)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(kinds.files, "write_parquet", broken)
    (result,) = sync(con, config)
    assert (result.status, result.attempts) == ("failed", 2)
    assert "disk full" in result.error
    assert result.rows_failed == len(MARKETING_IDS)
    folder = exports / "marketing_files" / "win_back"
    assert list(folder.iterdir()) == [], "no half delivery, no temporary file"
    assert con.execute("select count(*) from audiences.destination_state").fetchone()[0] == 0

    monkeypatch.undo()
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(exports))
    (retry,) = sync(con, config)
    assert (retry.status, retry.rows_added) == ("success", len(MARKETING_IDS))


def test_default_folder_is_under_retention_home(tmp_path, monkeypatch):
    monkeypatch.delenv("RETENTION_EXPORT_DIR", raising=False)
    monkeypatch.delenv("RETENTION_DATA_DIR", raising=False)
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path / "home"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    (result,) = sync(con, make_config(tmp_path, [files_destination(formats=["csv"])]))
    expected = (tmp_path / "home" / "data" / "exports" / "marketing_files" / "win_back").resolve()
    assert result.location == str(expected)
    assert (expected / "win_back_2026-10-30.csv").is_file()
    # A relative `folder` option lands under the export root as well.
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "elsewhere"))
    destination = files_destination(name="crm_drop", formats=["csv"], folder="crm")
    (moved,) = sync(con, make_config(tmp_path, [destination]))
    assert moved.location == str(tmp_path / "elsewhere" / "crm" / "crm_drop" / "win_back")


def test_an_empty_audience_still_delivers_an_empty_file(tmp_path, exports):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("C03", is_control=True)], as_of=dt.date(2026, 1, 2))
    (result,) = sync(con, make_config(tmp_path, [files_destination(formats=["csv", "parquet"])]))
    assert (result.status, result.rows_total) == ("success", 0)
    folder = exports / "marketing_files" / "win_back"
    assert read_csv(folder / "win_back_2026-01-02.csv") == []
    assert pq.read_table(folder / "win_back_2026-01-02.parquet").num_rows == 0
