"""One `dbt build`, its wall time split by layer from run_results.json.

dbt runs nodes in parallel (RETENTION_DBT_THREADS), so per-node times overlap and their sum can
exceed the wall time. Each moment of the build is therefore shared equally among the nodes
running at that moment ("attributed" seconds): the layers then add up to the time dbt was busy,
and the rest of the wall time is dbt's own overhead (start-up, parsing, connecting). The plain
sum of node execution times is kept as well, and the same seconds per resource type (models,
data tests, unit tests, seeds) and for the slowest nodes.

Layers are the model folders (staging, intermediate, marts, audiences) plus `seeds`; a data or
unit test counts in the layer of the model it tests; the predictive model
(`customer_clv_predictions`) is its own layer, `clv_model`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

CLV_MODEL = "customer_clv_predictions"
LAYERS = ("seeds", "staging", "intermediate", "marts", "clv_model", "audiences")
SLOWEST = 10  # nodes listed by attributed seconds


def layer_of(unique_id: str, manifest: dict[str, Any]) -> str:
    node = manifest["nodes"].get(unique_id) or manifest.get("unit_tests", {}).get(unique_id)
    if node is None:
        return "other"
    kind = node["resource_type"]
    if kind == "seed":
        return "seeds"
    if kind == "model":
        return "clv_model" if node["name"] == CLV_MODEL else node["fqn"][1]
    tested = node.get("attached_node") or next(
        (
            n
            for n in reversed(node.get("depends_on", {}).get("nodes", []))
            if n in manifest["nodes"]
        ),
        None,
    )
    if tested is None or tested == unique_id:
        return "other"
    layer = layer_of(tested, manifest)
    # The predictive model's tests are table checks, not the fit: they count with the marts.
    return "marts" if layer == "clv_model" else layer


def _interval(result: dict[str, Any]) -> tuple[float, float] | None:
    stamps = [
        (datetime.fromisoformat(t["started_at"]), datetime.fromisoformat(t["completed_at"]))
        for t in result.get("timing", [])
        if t.get("started_at") and t.get("completed_at")
    ]
    if not stamps:
        return None
    return min(s for s, _ in stamps).timestamp(), max(e for _, e in stamps).timestamp()


def attribute(intervals: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Seconds per key, each moment shared equally among the keys whose interval covers it."""
    events = sorted(
        [(start, 1, key) for key, (start, _) in intervals.items()]
        + [(end, -1, key) for key, (_, end) in intervals.items()]
    )
    shares = dict.fromkeys(intervals, 0.0)
    running: set[str] = set()
    previous = events[0][0] if events else 0.0
    for moment, change, key in events:
        if running and moment > previous:
            for active in running:
                shares[active] += (moment - previous) / len(running)
        previous = moment
        if change > 0:
            running.add(key)
        else:
            running.discard(key)
    return shares


def summarise(
    run_results: dict[str, Any], manifest: dict[str, Any], started: float, finished: float
) -> dict[str, Any]:
    """Per layer: attributed seconds, summed node seconds, node count, statuses; and dbt's
    overhead (`started`/`finished`: the wall clock around the dbt call) split into before the
    first node (process start, parse, connect), between nodes, and after the last one."""
    results = run_results["results"]
    intervals = {r["unique_id"]: iv for r in results if (iv := _interval(r)) is not None}
    shares = attribute(intervals)
    first = min((start for start, _ in intervals.values()), default=started)
    last = max((end for _, end in intervals.values()), default=started)
    layers: dict[str, dict[str, Any]] = {}
    statuses: dict[str, int] = {}
    problems = []
    for result in results:
        uid, status = result["unique_id"], str(result["status"])
        statuses[status] = statuses.get(status, 0) + 1
        if status in ("error", "fail", "skipped", "runtime error"):
            problem = {"node": uid, "status": status, "message": result.get("message")}
            if status != "skipped" and uid in intervals:
                # What ran beside it: an out-of-memory error depends on the neighbours too.
                start, end = intervals[uid]
                problem["running_beside"] = sorted(
                    other
                    for other, (s, e) in intervals.items()
                    if other != uid and s < end and e > start
                )
            problems.append(problem)
        layer = layers.setdefault(
            layer_of(uid, manifest), {"seconds": 0.0, "node_seconds": 0.0, "nodes": 0}
        )
        layer["seconds"] += shares.get(uid, 0.0)
        layer["node_seconds"] += float(result.get("execution_time") or 0.0)
        layer["nodes"] += 1
    busy = sum(shares.values())
    by_kind: dict[str, dict[str, Any]] = {}
    for result in results:
        kind = result["unique_id"].split(".", 1)[0]
        entry = by_kind.setdefault(kind, {"seconds": 0.0, "nodes": 0})
        entry["seconds"] += shares.get(result["unique_id"], 0.0)
        entry["nodes"] += 1
    slowest = [
        {
            "node": uid.split(".", 2)[-1],
            "kind": uid.split(".", 1)[0],
            "seconds": seconds,
            "execution_seconds": next(
                float(r.get("execution_time") or 0.0) for r in results if r["unique_id"] == uid
            ),
        }
        for uid, seconds in sorted(shares.items(), key=lambda item: -item[1])[:SLOWEST]
    ]
    clv = next(
        (r for r in results if manifest["nodes"].get(r["unique_id"], {}).get("name") == CLV_MODEL),
        None,
    )
    return {
        "layers": layers,
        "busy_seconds": busy,
        "by_kind": by_kind,
        "slowest": slowest,
        "overhead": {
            "before_first_node": max(first - started, 0.0),
            "between_nodes": max(last - first - busy, 0.0),
            "after_last_node": max(finished - last, 0.0),
        },
        "elapsed_seconds": float(run_results.get("elapsed_time") or 0.0),
        "statuses": statuses,
        "problems": problems,
        "clv_model_execution_seconds": float(clv["execution_time"]) if clv else None,
        "clv_model_status": str(clv["status"]) if clv else None,
    }
