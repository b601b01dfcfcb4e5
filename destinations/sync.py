"""Deliver audiences to destinations: diffed, consented, retried, logged, never twice.

For one destination × audience (:func:`sync_one`):

1. the run id is the audience's ``audience_run_id`` (``win_back:2026-10-31``), plus
   ``:<run_tag>`` when given and ``:full`` in full mode;
2. *skipped* (logged, not an error) when the audience table does not exist yet or an
   environment variable the destination needs is unset;
3. *already_delivered* (nothing sent) when the sync log holds a success for this run id;
4. the consented rows are read (:mod:`destinations.consent`, checked twice), shaped by the
   kind, hashed (:func:`destinations.rows.row_hash`) and compared with the destination's
   snapshot in ``audiences.destination_state``: added, changed, removed. Rows that are the
   audience's own columns (``Kind.delivers_columns``) stay an Arrow table, hashed column by
   column (:class:`destinations.rows.RowTable`); row dicts are built only if the kind reads them;
5. the kind delivers (diff mode: the changes; full mode: everything, plus removals), retried
   ``attempts`` times ``retry_delay_seconds`` apart; a failure is logged with a redacted error
   and the next destination goes on;
6. only after a successful delivery are the snapshot replaced and the success logged, in one
   DuckDB transaction.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from destinations import consent, state
from destinations.config import Config, Destination, load_config
from destinations.kinds import Change, Plan, make
from destinations.redact import redact
from destinations.rows import (
    AudienceError,
    AudienceMissing,
    LazyRows,
    RowTable,
    audience_run,
    read_audience,
    row_hash,
)
from destinations.state import SyncResult, utcnow

LOG = logging.getLogger("destinations")
RUN_TAG = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_ERROR = 2000


def compose_run_id(audience_run_id: str, run_tag: str | None = None, full: bool = False) -> str:
    if run_tag is not None and not RUN_TAG.match(run_tag):
        raise ValueError(f"run tag must match {RUN_TAG.pattern}")
    return ":".join([audience_run_id, *([run_tag] if run_tag else []), *(["full"] if full else [])])


def sync(
    con,
    config: Config | None = None,
    *,
    audiences: list[str] | None = None,
    destinations: list[str] | None = None,
    full: bool = False,
    run_tag: str | None = None,
    log: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SyncResult]:
    """Every (destination, audience) pair of ``config`` (narrowed by ``audiences`` and
    ``destinations``), one after another; a failure never stops the others."""
    config = config or load_config()
    pairs = config.pairs(audiences, destinations)
    return [sync_one(con, d, a, full=full, run_tag=run_tag, log=log, sleep=sleep) for d, a in pairs]


def sync_one(
    con,
    destination: Destination,
    audience: str,
    *,
    full: bool = False,
    run_tag: str | None = None,
    log: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    log = log or LOG
    state.ensure_tables(con)
    kind = make(destination)
    secrets = destination.secrets()
    result = SyncResult(
        run_id=compose_run_id(f"{audience}:unknown", run_tag, full),
        destination=destination.name,
        kind=destination.kind,
        purpose=destination.purpose,
        audience_name=audience,
        mode="full" if full else "diff",
        status=state.SKIPPED,
        location=redact(kind.location(), secrets),
    )
    name = f"{destination.name}/{audience}"

    def finish(status: str, error: str | None = None) -> SyncResult:
        result.status = status
        result.error = redact(error, secrets)[:MAX_ERROR] if error else None
        result.finished_at = utcnow()
        state.record(con, result)
        message = f"{name}: {status}" + (f" — {result.error}" if result.error else "")
        (log.error if status == state.FAILED else log.info)(message)
        return result

    try:
        return _deliver(con, destination, audience, kind, result, finish, run_tag, log, sleep)
    except Exception as exc:  # anything unforeseen fails this pair only, never the others
        return finish(state.FAILED, f"{type(exc).__name__}: {exc}")


def _deliver(con, destination, audience, kind, result, finish, run_tag, log, sleep) -> SyncResult:
    name = f"{destination.name}/{audience}"
    secrets = destination.secrets()
    full = result.mode == "full"
    try:
        audience_run_id, _ = audience_run(con, audience)
    except AudienceMissing as exc:
        return finish(state.SKIPPED, str(exc))
    except AudienceError as exc:
        return finish(state.FAILED, str(exc))
    result.run_id = compose_run_id(audience_run_id, run_tag, full)

    missing = destination.missing_env()
    if missing:
        return finish(state.SKIPPED, f"environment variable {', '.join(missing)} not set")
    if state.already_delivered(con, result.run_id, destination.name, audience):
        return finish(state.ALREADY_DELIVERED)

    try:
        data = read_audience(con, audience, destination.purpose)
        consent.check_table(data.table, destination.purpose)  # the SQL filter, checked again
        columns = kind.columns(list(data.columns))
        if kind.delivers_columns:  # hashed column by column; dicts only if the kind reads them
            ids = data.customer_ids
            current: Sequence[tuple[str, dict[str, Any]]] = LazyRows(
                ids, lambda: [kind.project(row, columns) for row in data.rows]
            )
            table = RowTable(
                columns, ids, data.table, lambda name: [row[name] for _, row in current]
            )
            hashes = table.hashes()
        else:
            current, table = [], None
            for row in data.rows:  # checked for consent as they are read
                delivered = kind.project(row, columns)
                if delivered is None:
                    result.rows_excluded += 1
                else:
                    current.append((str(row["customer_id"]), delivered))
            ids = [cid for cid, _ in current]
            hashes = [row_hash(row) for _, row in current]
    except (AudienceError, consent.ConsentViolation) as exc:
        return finish(state.FAILED, str(exc))

    previous = state.load_state(con, destination.name, audience)
    added, changed = [], []
    for cid, digest in zip(ids, hashes, strict=True):
        before = previous.get(cid)
        if before is None:
            added.append(Change("added", cid))
        elif before[0] != digest:
            changed.append(Change("changed", cid, before[1]))
    now = set(ids)
    removed = [
        Change("removed", cid, payload)
        for cid, (_, payload) in sorted(previous.items())
        if cid not in now
    ]
    plan = Plan(
        destination=destination,
        audience=audience,
        run_id=result.run_id,
        as_of_date=data.as_of_date,
        mode=result.mode,
        columns=columns,
        current=current,
        added=added,
        changed=changed,
        removed=removed,
        con=con,
        log=log,
        secrets=secrets,
        table=table,
    )
    result.rows_total = len(current)
    result.rows_added, result.rows_changed, result.rows_removed = (
        len(added),
        len(changed),
        len(removed),
    )
    for attempt in range(1, destination.attempts + 1):
        result.attempts = attempt
        try:
            outcome = kind.deliver(plan)
        except Exception as exc:
            error = redact(f"{type(exc).__name__}: {exc}", secrets)
            if attempt < destination.attempts:
                log.warning(
                    f"{name}: attempt {attempt}/{destination.attempts} failed — {error}; "
                    f"retrying in {destination.retry_delay_seconds:g}s"
                )
                sleep(destination.retry_delay_seconds)
                continue
            result.rows_failed = getattr(exc, "rows_failed", 0) or (
                len(plan.upserts) + len(plan.removed)
            )
            return finish(state.FAILED, error)
        break
    result.status = state.SUCCESS
    result.location = redact(outcome.location, secrets)
    result.files = outcome.files
    result.details = {
        k: redact(v, secrets) if isinstance(v, str) else v for k, v in outcome.details.items()
    }
    result.finished_at = utcnow()
    payloads = None if kind.delivers_columns else [kind.removal_payload(r) for _, r in current]
    try:
        state.commit_success(con, result, ids, hashes, payloads)
    except Exception as exc:
        raise RuntimeError(
            f"delivered, but the state could not be saved ({exc}); the next run sends these "
            "changes again"
        ) from exc
    log.info(
        f"{name}: delivered run {result.run_id} ({result.mode}) — +{result.rows_added} "
        f"~{result.rows_changed} -{result.rows_removed} of {result.rows_total} rows → "
        f"{result.location}"
    )
    return result
