"""Markdown for the results: one table per run, and bench/results/README.md over all runs."""

from __future__ import annotations

import itertools
from typing import Any

from ingestion.contract import ENTITIES

GIB = 1024**3
SOURCES = tuple(dict.fromkeys(e.source for e in ENTITIES))
# (row label, stage suffix, indent): the order the daily job runs in.
ROWS = (
    ("ingestion", "ingest", 0),
    *((f"{e.source} {e.name}", f"ingest.{e.table}", 1) for e in ENTITIES),
    ("GX validation", "validate", 0),
    ("dbt build (wall)", "dbt_build", 0),
    ("seeds", "dbt.seeds", 1),
    ("staging", "dbt.staging", 1),
    ("intermediate", "dbt.intermediate", 1),
    ("marts", "dbt.marts", 1),
    ("predictive model (customer_clv_predictions)", "dbt.clv_model", 1),
    ("audiences", "dbt.audiences", 1),
    ("dbt overhead (start-up, parse)", "dbt.overhead", 1),
    ("CLV holdout validation", "clv_holdout", 0),
    ("delivery to files", "deliver_files", 0),
    ("BI read copy", "publish_bi", 0),
    ("between stages (imports on first use)", "between", 0),
)
# The growth table: label, stage name.
GROWTH = (
    ("full build", "full"),
    ("ingestion", "full.ingest"),
    ("GX validation", "full.validate"),
    ("dbt staging", "full.dbt.staging"),
    ("dbt intermediate + marts", ("full.dbt.intermediate", "full.dbt.marts")),
    ("model fit", "full.model_fit"),
    ("audiences (dbt)", "full.dbt.audiences"),
    ("delivery to files", "full.deliver_files"),
    ("BI read copy", "full.publish_bi"),
    ("one-day increment", "increment"),
)


def _seconds(stage: dict[str, Any] | None) -> str:
    if not stage or stage.get("available") is False:
        return "n/a"
    return f"{stage['median_seconds']:.2f}"


def _rate(stage: dict[str, Any] | None) -> str:
    if not stage or "rows_per_second" not in stage:
        return ""
    return f"{stage['rows_per_second']:,.0f}"


def _cores(stage: dict[str, Any] | None) -> str:
    if not stage or "cores_busy" not in stage:
        return ""
    return f"{stage['cores_busy']:.2f}"


def _value(target: dict[str, Any], key: str) -> str:
    value = target.get(key)
    if value is None:
        return "—"
    unit = target["unit"]
    if unit == "bytes":
        return f"{value / GIB:.2f} GiB"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "ratio":
        return f"{value:.2f}×"
    return f"{value:.1f} s"


def machine_line(data: dict[str, Any]) -> str:
    m, v = data["machine"], data["machine"]["versions"]
    ram = f"{m['ram_bytes'] / GIB:.0f} GiB RAM" if m["ram_bytes"] else "RAM unknown"
    return (
        f"{m['cpu_model']}, {m['cores_usable']} usable cores, {ram}; Python {m['python']}, "
        f"DuckDB {v['duckdb']}, dbt-core {v['dbt-core']} + dbt-duckdb {v['dbt-duckdb']}, "
        f"Dagster {v['dagster']}, GX {v['great_expectations'] or 'not installed'}"
    )


def _runs(count: int) -> str:
    return "one run" if count == 1 else f"median of {count} runs"


# A whole build's name, and the phase a stage belongs to.
WHOLE = {"full": "full build", "increment": "one-day increment"}
PHASES = {"full": "full build", "increment": "increment", "csv": "CSV variant"}
LABELS = {suffix: label for label, suffix, _ in ROWS} | {"model_fit": "model fit"}


def stage_label(name: str) -> str:
    """`full` → `full build`; `full.ingest.crm_customers` → `crm customers (full build)`."""
    if "." not in name:
        return WHOLE.get(name, name)
    phase, suffix = name.split(".", 1)
    return f"{LABELS.get(suffix, suffix)} ({PHASES.get(phase, phase)})"


def _change(row: dict[str, Any]) -> str:
    change = f", {row['change']:+.0%}" if row["change"] is not None else ""
    return f"{row['before']:.1f} → {row['now']:.1f} s{change}"


def comparison_summary(previous: dict[str, Any] | None) -> list[str]:
    """A few lines on the run against the previous result at this SF (console and report)."""
    if previous is None:
        return ["no previous result at this SF to compare with"]
    against = previous["against"]
    source = f"{against['file']} (commit {against['commit'][:7]})"
    if not previous["same_machine"]:
        return [f"the previous result, {source}, ran on another machine: not compared"]
    rows = {r["stage"]: r for r in previous["stages"]}
    whole = [f"{stage_label(n)} {_change(rows[n])}" for n in ("full", "increment") if n in rows]
    limit = previous["threshold"]
    noise = f"+{limit['share']:.0%} and +{limit['seconds']:g} s"
    slower = [f"{stage_label(n)} {_change(rows[n])}" for n in previous["slower"]]
    verdict = "; ".join(slower) if slower else "none"
    if slower and previous.get("single_run"):
        verdict += " (a single run on one side or both: run it again before blaming a change)"
    return [
        f"against the previous result, {source}: " + "; ".join(whole),
        f"slower beyond the noise ({noise}): {verdict}",
    ]


def render_result(data: dict[str, Any]) -> str:
    p, stages = data["parameters"], data["stages"]
    world = p["world"]
    rows = data["data"]["generated_rows"]
    lines = [
        f"# Benchmark SF {p['sf']:g} — {data['date']}",
        "",
        f"- machine: {machine_line(data)}",
        f"- data: {world['customers']:,} customers, history {p['history'][0]} … "
        f"{p['history'][1]}, increment {p['increment_day']}; orders and lines Parquet, tickets "
        f"JSONL, CRM CSV; generated rows (history + increment): "
        + ", ".join(f"{t} {n:,}" for t, n in rows.items()),
        f"- generation (not counted): {data['data']['generation_seconds']:.1f} s",
        f"- runs: median of {p['repeats']} after {p['warmups']} warm-up(s) (a warm-up: "
        f"{p.get('warm_up', 'the full build only')}), each in a fresh "
        f"process tree and scratch home; DuckDB threads {p['duckdb']['RETENTION_DUCKDB_THREADS']}"
        f", memory_limit {p['duckdb']['RETENTION_DUCKDB_MEMORY_LIMIT']}, dbt threads "
        f"{p['duckdb']['RETENTION_DBT_THREADS']}",
        f"- commit: {data['git']['commit']}"
        + (" (with uncommitted changes)" if data["git"]["dirty"] else ""),
    ]
    if data.get("note"):
        lines.append(f"- note: {data['note']}")
    if not data["valid"]:
        lines += ["", "**Not a clean run** — problems:", ""]
        lines += [
            f"- {x['stage']}: {x.get('node', '')} {x['status']} {x.get('message') or ''}"
            + (
                f" (running beside it: {', '.join(x['running_beside'])})"
                if x.get("running_beside")
                else ""
            )
            for x in data["problems"][:20]
        ]
    lines += [
        "",
        "| stage | full build, s | rows/s | cores busy | one-day increment, s | rows/s "
        "| cores busy |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, suffix, indent in ROWS:
        full, inc = stages.get(f"full.{suffix}"), stages.get(f"increment.{suffix}")
        name = ("&nbsp;&nbsp;&nbsp;" * indent) + label
        lines.append(
            f"| {name} | {_seconds(full)} | {_rate(full)} | {_cores(full)} | {_seconds(inc)} "
            f"| {_rate(inc)} | {_cores(inc)} |"
        )
    full, inc = stages["full"], stages["increment"]
    lines.append(
        f"| **whole** | **{_seconds(full)}** | | {_cores(full)} | **{_seconds(inc)}** | "
        f"| {_cores(inc)} |"
    )
    fit = stages.get("full.model_fit", {})
    refit = stages.get("increment.model_fit", {})
    peak = data["peak_rss_bytes"]
    lines += [
        "",
        f"- model fit: {fit.get('customers', 0):,} customers in {_seconds(fit)} s in the full "
        f"build, {_seconds(refit)} s in the increment (dbt node time of "
        "customer_clv_predictions: read, fit, score, write; every customer is refitted daily, "
        "and in the full build other nodes may share the cores with it)",
        f"- increment: {data['increment']['share_of_full']:.1%} of the full build "
        f"({data['increment']['rows']:,} new rows)",
        f"- peak RSS of the process tree: {peak['whole_run'] / GIB:.2f} GiB (full build "
        f"{peak['full'] / GIB:.2f}, increment {peak['increment'] / GIB:.2f}; {peak['method']})"
        + (
            f"; at the peak the benchmark process held {peak['root_at_peak'] / GIB:.2f} GiB, "
            f"its children (dbt) {(peak['whole_run'] - peak['root_at_peak']) / GIB:.2f} GiB"
            if peak.get("root_at_peak")
            else ""
        ),
        f"- cores busy: CPU seconds of the process tree over wall seconds while the stage ran, "
        f"out of {data['machine']['cores_usable']} usable; an ingestion row includes the "
        "validation inside the loader",
        "- dbt layer times share each moment of the build among the nodes running then, so they "
        "add up to dbt's busy time; tests count with the layer they test",
    ]
    for phase in ("full", "increment"):
        by_table = stages.get(f"{phase}.validate", {}).get("by_table")
        if by_table:
            lines.append(
                f"- GX validation by table ({phase}): "
                + ", ".join(f"{t} {s:.1f} s" for t, s in by_table.items())
            )
    for phase in ("full", "increment"):
        dbt = stages.get(f"{phase}.dbt_build", {})
        if dbt.get("by_kind"):
            lines.append(
                f"- dbt busy time by resource type ({phase}): "
                + ", ".join(
                    f"{kind} {v['seconds']:.1f} s ({v['nodes']})"
                    for kind, v in sorted(dbt["by_kind"].items(), key=lambda kv: -kv[1]["seconds"])
                )
            )
        if dbt.get("slowest"):
            lines.append(
                f"- slowest dbt nodes ({phase}, attributed s): "
                + ", ".join(f"{n['node']} {n['seconds']:.1f}" for n in dbt["slowest"])
            )
    overhead = stages.get("full.dbt.overhead", {})
    if "before_first_node" in overhead:
        lines.append(
            f"- dbt overhead in the full build: {overhead['before_first_node']:.1f} s before the "
            f"first node (process start, parse, connect), {overhead['between_nodes']:.1f} s "
            f"between nodes, {overhead['after_last_node']:.1f} s after the last"
        )
    parsed = {
        phase: stages.get(f"{phase}.dbt_build", {}).get("parsed_whole_project")
        for phase in ("full", "increment")
    }
    if None not in parsed.values():
        # Without a warm-up the first build finds no saved parse; after one, none should.
        lines.append(
            "- dbt parse"
            + (" (the whole project if any repeat parsed it)" if p["repeats"] > 1 else "")
            + ": "
            + ", ".join(
                f"{'the whole project' if whole else 'partial'} in the "
                f"{'full build' if phase == 'full' else 'increment'}"
                for phase, whole in parsed.items()
            )
        )
    unavailable = {
        name.split(".", 1)[1]: s["reason"]
        for name, s in stages.items()
        if name.startswith("full.") and s.get("available") is False
    }
    if unavailable:
        lines += ["", "Not measured:", ""]
        lines += [f"- {name}: {reason}" for name, reason in unavailable.items()]
    csv_rows = [e for e in ENTITIES if f"csv.ingest.{e.table}" in stages]
    if csv_rows:
        lines += [
            "",
            "Orders as CSV instead of Parquet (ingestion of the history only; CSV: "
            f"{_runs(len(stages[f'csv.ingest.{csv_rows[0].table}']['repeats_seconds']))}, "
            "Parquet: the median above):",
            "",
            "| entity | Parquet, s | rows/s | CSV, s | rows/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for e in csv_rows:
            pq, csv = stages.get(f"full.ingest.{e.table}"), stages[f"csv.ingest.{e.table}"]
            lines.append(
                f"| {e.source} {e.name} | {_seconds(pq)} | {_rate(pq)} | {_seconds(csv)} | "
                f"{_rate(csv)} |"
            )
    previous = data.get("previous")
    lines += ["", "Against the previous result at this SF:", ""]
    lines += [f"- {line}" for line in comparison_summary(previous)]
    if previous and previous["stages"]:
        top = {f"{phase}.{suffix}" for _, suffix, indent in ROWS if indent == 0 for phase in PHASES}
        lines += ["", "| stage | before, s | now, s | change |", "|---|---:|---:|---:|"]
        for row in previous["stages"]:
            if row["stage"] in WHOLE or row["stage"] in top or row["slower"]:
                change = f"{row['change']:+.1%}" if row["change"] is not None else "—"
                flag = " **slower**" if row["slower"] else ""
                lines.append(
                    f"| {stage_label(row['stage'])} | {row['before']:.2f} | {row['now']:.2f} | "
                    f"{change}{flag} |"
                )
    lines += ["", "Targets (measured, not asserted):", "", "| target | measured | limit | status |"]
    lines.append("|---|---:|---:|---|")
    for t in data["targets"]:
        status = t["status"]
        if "linear_projection" in t:
            status += (
                f" (linear projection to {t['projected_to']}: "
                f"{_value(t, 'linear_projection')}, {t['projected_status']})"
            )
        lines.append(
            f"| {t['target']} | {_value(t, 'measured')} | {_value(t, 'limit')} | {status} |"
        )
    return "\n".join(lines) + "\n"


def _stage_seconds(data: dict[str, Any], name) -> float | None:
    names = name if isinstance(name, tuple) else (name,)
    values = [data["stages"].get(n, {}).get("median_seconds") for n in names]
    return None if any(v is None for v in values) else sum(values)


def render_index(latest: dict[float, dict[str, Any]]) -> str:
    """bench/results/README.md: the newest result per SF, and how cost grows with SF."""
    sfs = sorted(latest)
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench SF=<n>` / `retention bench --sf <n>` (bench/harness.py); do not",
        "edit by hand. SF 1 = 100 000 customers over two years; each figure is the median of the",
        "repeats, in seconds. The one-day increment lands the next day's files and rebuilds.",
        "",
        "## Latest per scale factor",
        "",
        "| SF | date | full build | increment | increment share | peak RSS | model fit "
        "(customers/s) | valid | machine |",
        "|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for sf in sfs:
        d = latest[sf]
        fit = d["stages"].get("full.model_fit", {})
        lines.append(
            f"| {sf:g} | [{d['date']}]({d['file'].removesuffix('.json')}.md) | "
            f"{d['stages']['full']['median_seconds']:.1f} | "
            f"{d['increment']['seconds']:.1f} | {d['increment']['share_of_full']:.1%} | "
            f"{d['peak_rss_bytes']['whole_run'] / GIB:.2f} GiB | "
            f"{fit.get('customers_per_second', 0):,.0f} | {'yes' if d['valid'] else 'no'} | "
            f"{machine_line(d)}{'; ' + d['note'] if d.get('note') else ''} |"
        )
    lines += [
        "",
        "## Growth with scale",
        "",
        "Seconds per SF; the ratio columns are the cost per SF unit at the larger SF over that at "
        "the smaller (1.00 = linear, below 1 = fixed costs amortised).",
        "",
    ]
    header = ["stage", *(f"SF {sf:g}" for sf in sfs)]
    header += [f"{a:g} → {b:g}" for a, b in itertools.pairwise(sfs)]
    lines += ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for label, name in GROWTH:
        values = [_stage_seconds(latest[sf], name) for sf in sfs]
        cells = [f"{v:.2f}" if v is not None else "n/a" for v in values]
        for (a, va), (b, vb) in itertools.pairwise(zip(sfs, values, strict=True)):
            cells.append(f"{(vb / b) / (va / a):.2f}" if va and vb else "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    peaks = [latest[sf]["peak_rss_bytes"]["whole_run"] / GIB for sf in sfs]
    lines.append(
        "| peak RSS, GiB | "
        + " | ".join(f"{p:.2f}" for p in peaks)
        + " |"
        + " |" * max(len(sfs) - 1, 0)
    )
    return "\n".join(lines) + "\n"
