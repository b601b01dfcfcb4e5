"""The `contract_expectations` asset check of every ingestion asset.

It reports what Great Expectations found in the batches the run loaded (`raw.batch_validation`):
per expectation the batches it failed and its unexpected rows. It fails (ERROR, non-blocking)
when a file was rejected, when a loaded batch has no GX verdict, or when GX and the SQL
quarantine disagree; it warns when only warn-severity expectations failed. A check that cannot
import Great Expectations fails: no verdict is never a pass.
"""

from __future__ import annotations

import dagster as dg

from ingestion.contract import Entity
from ingestion.loader import BATCH_VALIDATION, FileResult

CHECK_NAME = "contract_expectations"


def check_spec(entity: Entity) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CHECK_NAME,
        asset=dg.AssetKey(["raw", entity.table]),
        blocking=False,
        description=(
            f"Great Expectations' verdict on the batches of {entity.qualified_name} loaded in "
            f"the run (suite expectations/suites/{entity.table}.json), reconciled with the SQL "
            "quarantine."
        ),
    )


def contract_check(con, entity: Entity, results: list[FileResult]) -> dg.AssetCheckResult:
    try:
        import great_expectations  # noqa: F401  (the verdicts are worthless without it)
    except Exception as exc:
        return _result(False, dg.AssetCheckSeverity.ERROR, {"error": f"GX unavailable: {exc!r}"})

    loaded = {r.batch_id: r.source_file for r in results if r.status == "loaded"}
    rejected = {r.source_file: r.reason for r in results if r.status == "rejected"}
    rows = []
    if loaded:
        listing = ", ".join(str(b) for b in loaded)
        rows = con.execute(
            f"""select batch_id, reason, severity, unexpected_count, success, reconciled, error
            from {BATCH_VALIDATION} where batch_id in ({listing})"""
        ).fetchall()
    validated = {r[0] for r in rows}
    unvalidated = sorted(f for b, f in loaded.items() if b not in validated)
    failed: dict[str, dict[str, int]] = {}
    not_reconciled: list[str] = []
    warned = False
    for batch_id, reason, severity, unexpected, success, reconciled, error in rows:
        if not reconciled:
            not_reconciled.append(f"{loaded[batch_id]} {reason}: {error}")
        if success is False:
            entry = failed.setdefault(reason, {"failed_batches": 0, "unexpected_rows": 0})
            entry["failed_batches"] += 1
            entry["unexpected_rows"] += unexpected or 0
            warned = warned or severity == "warn"
    metadata = {
        "batches_validated": len(validated),
        "batches_rejected": len(rejected),
        "expectations_failed": failed,
        "unexpected_rows": sum(e["unexpected_rows"] for e in failed.values()),
    }
    if rejected:
        metadata["rejected_files"] = rejected
    if unvalidated:
        metadata["batches_without_gx_verdict"] = unvalidated[:50]
    if not_reconciled:
        metadata["gx_sql_disagreements"] = not_reconciled[:50]
    if rejected or unvalidated or not_reconciled:
        return _result(False, dg.AssetCheckSeverity.ERROR, metadata)
    # Rows quarantined are the rules at work (reported in the metadata); warn-severity
    # expectations that failed make the check warn.
    return _result(not warned, dg.AssetCheckSeverity.WARN, metadata)


def _result(passed: bool, severity, metadata: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=CHECK_NAME, passed=passed, severity=severity, metadata=metadata
    )
