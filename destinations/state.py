"""What each destination last received, and what every sync did, in the warehouse.

* ``audiences.destination_state`` — per destination × audience × customer: the hash of the
  row last delivered (and, for ad platforms, the hashed identifiers needed to remove it later).
  Replaced in the same DuckDB transaction as the sync log row, and only after a delivery
  succeeded.
* ``audiences.sync_log`` — one row per destination × audience × attempt-set: run id, mode,
  rows added/changed/removed/failed, status (``success``, ``failed``, ``skipped``,
  ``already_delivered``), a secret-free error and location, start and finish (UTC).
* ``audiences.destination_batches`` — webhook batches the receiver acknowledged, by run id and
  batch number with the payload's SHA-256: a re-run of the same run id skips them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from destinations.rows import SCHEMA

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.destination_state (
    destination varchar not null,
    audience_name varchar not null,
    customer_id varchar not null,
    row_hash varchar not null,
    removal_payload varchar,
    run_id varchar not null,
    delivered_at timestamp not null,
    primary key (destination, audience_name, customer_id)
);
create table if not exists {SCHEMA}.sync_log (
    run_id varchar not null,
    destination varchar not null,
    kind varchar not null,
    purpose varchar not null,
    audience_name varchar not null,
    mode varchar not null,
    status varchar not null,
    rows_total bigint,
    rows_added bigint,
    rows_changed bigint,
    rows_removed bigint,
    rows_failed bigint,
    rows_excluded bigint,
    attempts integer,
    location varchar,
    error varchar,
    started_at timestamp not null,
    finished_at timestamp not null
);
create table if not exists {SCHEMA}.destination_batches (
    destination varchar not null,
    audience_name varchar not null,
    run_id varchar not null,
    batch_number integer not null,
    idempotency_key varchar not null,
    payload_sha256 varchar not null,
    records integer not null,
    acknowledged_at timestamp not null,
    primary key (destination, audience_name, run_id, batch_number)
);
"""

SUCCESS, FAILED, SKIPPED, ALREADY_DELIVERED = "success", "failed", "skipped", "already_delivered"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass
class SyncResult:
    """One destination × audience: what was (or was not) delivered, and why."""

    run_id: str
    destination: str
    kind: str
    purpose: str
    audience_name: str
    mode: str
    status: str
    rows_total: int = 0
    rows_added: int = 0
    rows_changed: int = 0
    rows_removed: int = 0
    rows_failed: int = 0
    rows_excluded: int = 0
    attempts: int = 0
    location: str = ""
    error: str | None = None
    started_at: dt.datetime = field(default_factory=utcnow)
    finished_at: dt.datetime = field(default_factory=utcnow)
    files: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def log_row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("files")
        row.pop("details")
        return row


def ensure_tables(con) -> None:
    con.execute(DDL)


def load_state(con, destination: str, audience: str) -> dict[str, tuple[str, dict | None]]:
    rows = con.execute(
        f"select customer_id, row_hash, removal_payload from {SCHEMA}.destination_state "
        "where destination = ? and audience_name = ?",
        [destination, audience],
    ).fetchall()
    return {cid: (h, json.loads(p) if p else None) for cid, h, p in rows}


def already_delivered(con, run_id: str, destination: str, audience: str) -> bool:
    return bool(
        con.execute(
            f"select count(*) from {SCHEMA}.sync_log where run_id = ? and destination = ? "
            "and audience_name = ? and status = ?",
            [run_id, destination, audience, SUCCESS],
        ).fetchone()[0]
    )


def _insert_log(con, result: SyncResult) -> None:
    row = result.log_row()
    columns = list(row)
    con.execute(
        f"insert into {SCHEMA}.sync_log ({', '.join(columns)}) "
        f"values ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )


def record(con, result: SyncResult) -> None:
    """Log a sync that changed no state (failed, skipped, already delivered)."""
    _insert_log(con, result)


def commit_success(
    con,
    result: SyncResult,
    customer_ids: list[str],
    hashes: list[str],
    payloads: list[dict | None] | None = None,
) -> None:
    """Replace the destination's snapshot of the audience and log the success, atomically:
    per customer its row hash and removal payload (``None``: none kept for any)."""
    table = pa.table(
        {
            "customer_id": pa.array(customer_ids, pa.string()),
            "row_hash": pa.array(hashes, pa.string()),
            "removal_payload": pa.array(
                [json.dumps(p, sort_keys=True) if p else None for p in payloads]
                if payloads is not None
                else [None] * len(customer_ids),
                pa.string(),
            ),
        }
    )
    con.execute("begin transaction")
    try:
        con.register("_destination_state_rows", table)
        try:
            con.execute(
                f"delete from {SCHEMA}.destination_state where destination = ? and "
                "audience_name = ? and customer_id not in "
                "(select customer_id from _destination_state_rows)",
                [result.destination, result.audience_name],
            )
            # Customers still there are updated in place: deleting and re-inserting every key
            # costs the primary key ~10 µs a row when the transaction commits.
            con.execute(
                f"insert into {SCHEMA}.destination_state select ?, ?, customer_id, row_hash, "
                "removal_payload, ?, ? from _destination_state_rows "
                "on conflict (destination, audience_name, customer_id) do update set "
                "row_hash = excluded.row_hash, removal_payload = excluded.removal_payload, "
                "run_id = excluded.run_id, delivered_at = excluded.delivered_at",
                [result.destination, result.audience_name, result.run_id, result.finished_at],
            )
        finally:
            con.unregister("_destination_state_rows")
        _insert_log(con, result)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def acknowledged_batch(
    con, destination: str, audience: str, run_id: str, batch_number: int
) -> tuple[str, str] | None:
    """(idempotency key, payload sha256) of a batch the receiver already acknowledged."""
    row = con.execute(
        f"select idempotency_key, payload_sha256 from {SCHEMA}.destination_batches where "
        "destination = ? and audience_name = ? and run_id = ? and batch_number = ?",
        [destination, audience, run_id, batch_number],
    ).fetchone()
    return (row[0], row[1]) if row else None


def record_batch(
    con,
    destination: str,
    audience: str,
    run_id: str,
    batch_number: int,
    key: str,
    payload_sha256: str,
    records: int,
) -> None:
    con.execute(
        f"insert into {SCHEMA}.destination_batches values (?, ?, ?, ?, ?, ?, ?, ?)",
        [destination, audience, run_id, batch_number, key, payload_sha256, records, utcnow()],
    )


def recent_log(con, limit: int = 20) -> list[dict[str, Any]]:
    cursor = con.execute(
        f"select * from {SCHEMA}.sync_log order by started_at desc, destination, audience_name "
        "limit ?",
        [limit],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
