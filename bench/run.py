"""One benchmark run, in its own process tree: `python -m bench.run` (started by the harness).

The run lands a cached world's history into a scratch home, builds everything (the full build),
then lands the next day and builds again (the increment), then loads the orders as CSV into a
separate warehouse. Every stage calls the project's own code — the loader (with its Great
Expectations validation), dbt through the Dagster resource, the holdout asset, the deliveries,
the BI copy — and is timed by one context manager that also records the process tree's peak
memory.

Paths come from the RETENTION_* environment the harness sets (never the default data/).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import duckdb

from bench import dbt_layers, worlds
from bench.rss import TreeMemory
from ingestion import settings, sources
from ingestion.contract import ENTITIES, Entity


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that ended (dbt runs in one per build)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Stages:
    """Named stage records: seconds, the process tree's peak memory while it ran, and how many
    cores it kept busy on average (CPU seconds over wall seconds: where a stage leaves a core
    idle, running it beside another would pay; where it keeps both busy, only less work will)."""

    def __init__(self, memory: TreeMemory):
        self.memory = memory
        self.records: dict[str, dict[str, Any]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[dict[str, Any]]:
        record: dict[str, Any] = {}
        self.records[name] = record
        with self.memory.track() as peak:
            started, cpu = time.perf_counter(), _cpu_seconds()
            try:
                yield record
            finally:
                record["seconds"] = time.perf_counter() - started
                record["cpu_seconds"] = _cpu_seconds() - cpu
                # Before any stage subtracts a part it times apart (the loader's validation).
                record["cores_busy"] = record["cpu_seconds"] / max(record["seconds"], 1e-9)
                record["peak_rss_bytes"] = peak.bytes
                record["peak_root_rss_bytes"] = peak.root_bytes

    def unavailable(self, name: str, reason: str) -> None:
        self.records[name] = {"available": False, "reason": reason}

    def derived(self, name: str, **values: Any) -> None:
        self.records[name] = values


@contextmanager
def connect(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Sized as every connection is (`settings.duckdb_config`, RETENTION_DUCKDB_*)."""
    con = duckdb.connect(str(warehouse), config=settings.duckdb_config(warehouse))
    try:
        yield con
    finally:
        con.close()


# ---------------------------------------------------------------------------------- stages


class ValidationClock:
    """Seconds spent in the loader's validation step: `ingestion.loader._validate`, which runs
    Great Expectations on every loaded batch and writes its verdicts to raw.batch_validation.
    The loader calls it inside `load_files`, so it is timed by wrapping it for the run; the
    loading itself is timed without it."""

    def __init__(self):
        from ingestion import loader

        self.loader = loader
        self.step = getattr(loader, "_validate", None)
        self.seconds = 0.0

    @property
    def available(self) -> bool:
        return callable(self.step)

    def __enter__(self) -> ValidationClock:
        if self.available:
            step = self.step

            @functools.wraps(step)
            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return step(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started

            self.loader._validate = timed
        return self

    def __exit__(self, *exc) -> None:
        if self.available:
            self.loader._validate = self.step


def ingest(stages: Stages, phase: str, paths: settings.Paths, entities: Sequence[Entity]) -> None:
    """Load every entity; `<phase>.ingest[.<table>]` exclude the validation inside the loader,
    which is `<phase>.validate`."""
    with ValidationClock() as validation:
        with stages(f"{phase}.ingest") as total, connect(paths.warehouse) as con:
            for entity in entities:
                before = validation.seconds
                with stages(f"{phase}.ingest.{entity.table}") as record:
                    # The CSV variant compares loading alone: GX, timed apart, is skipped.
                    results = sources.ingest_entity(con, entity, paths, validate=phase != "csv")
                record["seconds"] -= validation.seconds - before
                record["validation_seconds"] = validation.seconds - before
                record["source"] = entity.source
                record["rows"] = sum(r.rows_read for r in results)
                record["rows_loaded"] = sum(r.rows_loaded for r in results)
                record["files"] = sum(r.status == "loaded" for r in results)
                record["rejected_files"] = sum(r.status == "rejected" for r in results)
        total["seconds"] -= validation.seconds
    tables = [stages.records[f"{phase}.ingest.{e.table}"] for e in entities]
    total["rows"] = sum(t["rows"] for t in tables)
    if phase == "csv":
        return  # the CSV variant compares loading only
    if not validation.available:
        stages.unavailable(
            f"{phase}.validate",
            "ingestion/loader.py has no separate validation step (`_validate`) to time",
        )
        return
    stages.derived(
        f"{phase}.validate",
        seconds=validation.seconds,
        rows=sum(t["rows_loaded"] for t in tables),
        by_table={e.table: t["validation_seconds"] for e, t in zip(entities, tables, strict=True)},
    )


@contextmanager
def _dbt(stages: Stages, name: str, work: Path, parse_state: Path | None) -> Iterator[Any]:
    """dbt as the Dagster asset runs it (DbtCliResource, dbt_environment), timed as `name`;
    dbt's partial-parse state is kept in `parse_state` (default: the run's work folder).
    Yields (resource, target folder, stage record); dbt's echo goes to a file, and the
    record says whether dbt parsed the whole project (it says so when it cannot reuse a
    saved parse)."""
    from orchestration.resources import dbt_environment, dbt_project, dbt_resource

    dbt = dbt_resource(dbt_project())
    # dagster-dbt echoes dbt's events to stdout (Dagster captures them); here they go to a file.
    echo_path = work / f"dbt-stdout-{name}.log"
    with (
        open(echo_path, "w") as echo,
        stages(name) as record,
        dbt_environment(parse_state="bench", target_root=work, state_dir=parse_state) as target,
        redirect_stdout(echo),
    ):
        yield dbt, target, record
    record["parsed_whole_project"] = "Unable to do partial parsing" in echo_path.read_text()


def dbt_parse(stages: Stages, phase: str, work: Path, parse_state: Path | None = None) -> None:
    """`dbt parse`: leaves the partial-parse state the builds reuse."""
    with _dbt(stages, f"{phase}.dbt_parse", work, parse_state) as (dbt, target, _):
        dbt.cli(["parse"], target_path=target).wait()


def dbt_build(stages: Stages, phase: str, work: Path, parse_state: Path | None = None) -> None:
    """`dbt build` as the Dagster asset runs it; its run_results split into layers."""
    with _dbt(stages, f"{phase}.dbt_build", work, parse_state) as (dbt, target, record):
        started = time.time()
        dbt.cli(["build"], raise_on_error=False, target_path=target).wait()
        finished = time.time()
    run_results = target / "run_results.json"
    if not run_results.exists():
        log = target / "dbt.log"
        tail = log.read_text()[-3000:] if log.exists() else "(no dbt.log)"
        raise RuntimeError(f"dbt build wrote no run_results.json:\n{tail}")
    summary = dbt_layers.summarise(
        json.loads(run_results.read_text()),
        json.loads((target / "manifest.json").read_text()),
        started,
        finished,
    )
    record.update(
        statuses=summary["statuses"],
        problems=summary["problems"],
        busy_seconds=summary["busy_seconds"],
        by_kind=summary["by_kind"],
        slowest=summary["slowest"],
    )
    for layer in dbt_layers.LAYERS:
        values = summary["layers"].get(layer)
        if values:
            stages.derived(f"{phase}.dbt.{layer}", **values)
        else:
            stages.unavailable(f"{phase}.dbt.{layer}", f"no dbt nodes in {layer}")
    stages.derived(
        f"{phase}.dbt.overhead",
        seconds=max(record["seconds"] - summary["busy_seconds"], 0.0),
        **summary["overhead"],
    )
    stages.derived(
        f"{phase}.model_fit",
        seconds=summary["clv_model_execution_seconds"],
        status=summary["clv_model_status"],
    )


def clv_holdout(stages: Stages, phase: str) -> None:
    import dagster as dg

    from orchestration.model_assets import HoldoutConfig, clv_holdout_validation
    from orchestration.resources import Warehouse

    with stages(f"{phase}.clv_holdout"):
        clv_holdout_validation(
            context=dg.build_asset_context(), warehouse=Warehouse(), config=HoldoutConfig()
        )


def deliver_files(stages: Stages, phase: str, paths: settings.Paths) -> None:
    name = f"{phase}.deliver_files"
    try:
        from destinations import load_config, sync
    except ImportError as exc:
        stages.unavailable(name, f"destinations are not importable yet ({exc})")
        return
    config = load_config()
    names = [d.name for d in config.destinations if d.kind == "files"]
    if not names:
        stages.unavailable(name, "no destination of kind `files` is declared")
        return
    with stages(name) as record, connect(paths.warehouse) as con:
        results = sync(con, config, destinations=names)
    record["rows"] = sum(r.rows_total for r in results)
    record["statuses"] = {
        s: sum(r.status == s for r in results) for s in {r.status for r in results}
    }


def publish_bi(stages: Stages, phase: str, paths: settings.Paths) -> None:
    from destinations.bi_copy import publish

    with stages(f"{phase}.publish_bi") as record:
        published = publish(paths.warehouse, paths.bi, run_id=f"bench-{phase}")
    record["rows"] = sum(published.tables.values())


# The stages of a build, one after the other (`ingest` excludes the validation inside it).
PARTS = ("ingest", "validate", "dbt_build", "clv_holdout", "deliver_files", "publish_bi")


def build(
    stages: Stages, phase: str, paths: settings.Paths, parse_state: Path | None = None
) -> None:
    """Everything the daily job does, in its order, timed as one `<phase>` stage."""
    with stages(phase) as whole:
        ingest(stages, phase, paths, ENTITIES)
        dbt_build(stages, phase, paths.work, parse_state)
        clv_holdout(stages, phase)
        deliver_files(stages, phase, paths)
        publish_bi(stages, phase, paths)
    # What the whole holds beyond its parts: mostly a stage's imports on first use in the
    # process (Dagster, dagster-dbt, the destinations), which a Dagster run pays at start-up.
    parts = (stages.records.get(f"{phase}.{part}", {}) for part in PARTS)
    timed = sum(part.get("seconds", 0.0) for part in parts)
    stages.derived(f"{phase}.between", seconds=max(whole["seconds"] - timed, 0.0))
    with duckdb.connect(
        str(paths.warehouse), read_only=True, config=settings.duckdb_config(paths.warehouse)
    ) as con:
        (customers,) = con.execute("select count(*) from marts.customer_clv_predictions").fetchone()
    fit = stages.records[f"{phase}.model_fit"]
    fit["customers"] = customers
    if fit.get("seconds"):
        fit["customers_per_second"] = customers / fit["seconds"]


def warm(stages: Stages, paths: settings.Paths, parse_state: Path | None) -> None:
    """What one process tree leaves warm for the next: the page cache of the code every stage
    imports (and its bytecode, on a fresh clone) and dbt's saved parse. Each run is a fresh
    process tree, so nothing else carries over (a warm-up that was a whole full build at SF 1
    had taken what every repeat took: 83 s; 81, 79, 81 s), and building every stage on the
    last day's files instead cost 22-25 s. The harness reads the world's files into the page
    cache itself."""
    with stages("warm_up"):
        with stages("warm_up.imports"):
            import dagster  # noqa: F401

            import orchestration.model_assets  # noqa: F401
            from destinations import bi_copy, sync  # noqa: F401
            from expectations import validate

            validate.import_gx()
        dbt_parse(stages, "warm_up", paths.work, parse_state)


# --------------------------------------------------------------------------------- the run


def run(
    world: worlds.World,
    csv_world: worlds.World | None,
    warm_up: bool = False,
    parse_state: Path | None = None,
) -> dict[str, Any]:
    paths = settings.paths().ensure()
    loadavg_before = os.getloadavg()
    with TreeMemory() as memory:
        stages = Stages(memory)
        if warm_up:
            warm(stages, paths, parse_state)
        else:
            world.land(paths.landing, increment=False)
            build(stages, "full", paths, parse_state)
            world.land(paths.landing, increment=True)
            build(stages, "increment", paths, parse_state)
        if csv_world is not None:
            csv_paths = settings.Paths(
                home=paths.work / "csv",
                landing=paths.work / "csv" / "landing",
                rejected=paths.work / "csv" / "rejected",
                warehouse=paths.work / "csv" / "warehouse.duckdb",
                work=paths.work / "csv" / "work",
                bi=paths.work / "csv" / "bi",
            ).ensure()
            csv_world.land(csv_paths.landing, increment=False, sources=("orders",))
            orders = [e for e in ENTITIES if e.source == "orders"]
            ingest(stages, "csv", csv_paths, orders)
    return {
        "stages": stages.records,
        "peak_rss_bytes": memory.peak.bytes,
        "peak_root_rss_bytes": memory.peak.root_bytes,
        "rss_method": memory.method,
        "loadavg": {"before": loadavg_before, "after": os.getloadavg()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, required=True)
    parser.add_argument("--csv-world", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--warm-up", action="store_true", help="imports and `dbt parse` only (see `warm`)"
    )
    parser.add_argument(
        "--dbt-parse-state",
        type=Path,
        help="where dbt's partial-parse state is kept between runs (default: the run's work)",
    )
    args = parser.parse_args(argv)
    result = run(
        worlds.load(args.world),
        worlds.load(args.csv_world) if args.csv_world else None,
        warm_up=args.warm_up,
        parse_state=args.dbt_parse_state,
    )
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
