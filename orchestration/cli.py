"""`retention …`: everyday tasks from a terminal."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import uuid
import warnings
from contextlib import nullcontext, redirect_stdout
from datetime import date, datetime
from pathlib import Path

import click

from destinations.cli import audiences
from ingestion import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _dagster_home() -> Path:
    """DAGSTER_HOME defaults inside RETENTION_HOME, with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME", settings.paths().home / ".dagster_home"))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() and (PROJECT_ROOT / "dagster.yaml").exists():
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", config)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@click.group()
def main() -> None:
    """Customer-retention data platform."""


@main.command()
@click.option("--customers", default=20_000, show_default=True, help="Customers to simulate.")
@click.option("--days", default=730, show_default=True, help="Days of history.")
@click.option("--end-date", default="2026-10-31", show_default=True, help="Last day of data.")
@click.option("--seed", default=42, show_default=True)
@click.option("--locale", type=click.Choice(["en", "ru"]), default="en", show_default=True)
@click.option(
    "--orders-format", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option(
    "--tickets-format", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Landing folder (default: RETENTION_LANDING_DIR or data/landing).",
)
@click.option(
    "--dirty",
    type=click.FloatRange(0.0, 0.05),
    default=0.0,
    show_default=True,
    help="Share of rows made dirty (negative amounts, unknown statuses, bad dates …).",
)
def generate(customers, days, end_date, seed, locale, orders_format, tickets_format, out, dirty):
    """Write believable demo extracts (daily files) into the landing folder."""
    from ingestion.demo.generator import generate as run_generator

    target = out or settings.paths().ensure().landing
    click.echo(f"Generating {customers:,} customers over {days} days into {target} …")
    counts = run_generator(
        target,
        customers=customers,
        days=days,
        end_date=date.fromisoformat(end_date),
        seed=seed,
        locale=locale,
        orders_format=orders_format,
        tickets_format=tickets_format,
        dirty=dirty,
    )
    for table, n in counts.items():
        click.echo(f"  {table:<22}{n:>12,} rows")


def _open_ledger():
    """A read-only connection to the warehouse, or None before the first run."""
    import duckdb

    warehouse = settings.paths().warehouse
    if not warehouse.exists():
        return None
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise click.ClickException(f"the warehouse is busy (another run writes it): {exc}") from exc


def _pending_days() -> list[date]:
    """Delivery days of the landing files not in the ledger yet."""
    from ingestion import loader

    con = _open_ledger()
    try:
        return loader.pending_days(con, settings.paths().ensure().landing)
    finally:
        if con is not None:
            con.close()


def _today() -> date:
    from orchestration import partitions

    return date.fromisoformat(partitions.DAILY.get_last_partition_key())


def _execute(
    first: date,
    last: date,
    *,
    full_refresh: bool = False,
    test_all_rows: bool = False,
    verbose: bool = False,
):
    """One run of retention_daily over the delivery days first..last (a single-run range), with
    a progress bar of its steps. Recorded in DAGSTER_HOME, so the UI shows it."""
    _dagster_home()
    from orchestration.resources import DBT_PROJECT_DIR, ensure_manifest

    if ensure_manifest(DBT_PROJECT_DIR):
        click.echo("dbt project changed: manifest re-parsed.")
    import dagster as dg

    if not verbose:
        # backfill_policy is marked beta; the notice says nothing to someone running a job.
        warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from orchestration import partitions
    from orchestration.dbt_assets import DBT_OPS
    from orchestration.definitions import defs

    span = partitions.clamp(first, last, _today())
    if span is None:
        raise click.ClickException(f"no partition between {first} and {last}")
    job = defs.resolve_job_def("retention_daily")
    run_config: dict = {
        "loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}}
    }
    dbt_config = {"full_refresh": full_refresh, "test_all_rows": test_all_rows}
    if any(dbt_config.values()):
        run_config["ops"] = {name: {"config": dbt_config} for name in DBT_OPS}
    days = (span[1] - span[0]).days + 1
    click.echo(f"Running retention_daily for {span[0]} … {span[1]} ({days} day(s)) …")
    instance = dg.DagsterInstance.get()
    run_id = str(uuid.uuid4())
    log = settings.paths().home / "logs" / f"run-{run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with _StepProgress(instance, run_id, len(job.graph.nodes), quiet=verbose) as progress:
        with open(log, "w") as out, nullcontext() if verbose else redirect_stdout(out):
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                run_id=run_id,
                tags=partitions.range_tags(*span),
                raise_on_error=False,
            )
        progress.finish()
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    if not result.success:
        raise click.ClickException(
            f"run {run_id} failed at: {', '.join(failed) or 'unknown step'} (dbt output: {log})"
        )
    click.echo(f"Run {run_id} succeeded.")


class _StepProgress:
    """A progress bar over a run's steps, fed from the instance's event log by a thread."""

    def __init__(self, instance, run_id: str, steps: int, quiet: bool):
        self.instance, self.run_id, self.steps, self.quiet = instance, run_id, steps, quiet
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        if not self.quiet:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.finish()

    def finish(self):
        self.done.set()
        if self.thread.is_alive():
            self.thread.join()

    def _poll(self):
        import dagster as dg

        kinds = {
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.STEP_SKIPPED,
        }
        shown = 0
        with click.progressbar(
            length=self.steps,
            label="steps",
            file=sys.stderr,
            show_pos=True,
            show_eta=False,
            item_show_func=lambda step: step,
        ) as bar:
            while True:
                stop = self.done.wait(1.0)
                try:
                    events = self.instance.all_logs(self.run_id, of_type=kinds)
                except Exception:  # the run may not be stored yet
                    events = []
                if len(events) > shown:
                    bar.update(len(events) - shown, events[-1].step_key)
                    shown = len(events)
                if stop:
                    return


@main.command()
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Build this delivery day only.",
)
@click.option(
    "--test-all-rows",
    is_flag=True,
    help="Test every row, not only the rows this build rewrote (the weekly scheduled run does).",
)
@click.option("--verbose", is_flag=True, help="Show Dagster's and dbt's logs instead of a bar.")
def run(day, test_all_rows: bool, verbose: bool) -> None:
    """Load what landed and build everything: by default for the days of the files not loaded
    yet (or today when there are none); `--date` for one day."""
    if day is not None:
        first = last = day.date()
    else:
        pending = _pending_days()
        first, last = (pending[0], pending[-1]) if pending else (_today(), _today())
    _execute(first, last, test_all_rows=test_all_rows, verbose=verbose)


@main.command()
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--verbose", is_flag=True)
def backfill(first, last, verbose: bool) -> None:
    """Re-run a range of delivery days in one run: loads their files not loaded yet and
    recomputes every record delivered in the range, then everything downstream."""
    if first > last:
        raise click.BadParameter("--from is after --to")
    _execute(first.date(), last.date(), verbose=verbose)


@main.command("full-refresh")
@click.option("--verbose", is_flag=True)
def full_refresh(verbose: bool) -> None:
    """Rebuild every model from all of raw (dbt --full-refresh) over every partition. Raw
    tables keep their history: nothing is re-ingested that was loaded."""
    from orchestration import partitions

    _execute(partitions.first_day(), _today(), full_refresh=True, verbose=verbose)


@main.command()
@click.option("--runs", default=5, show_default=True, help="Latest runs to show.")
def status(runs: int) -> None:
    """Latest runs, the days each raw table holds, files waiting, the BI copy's age."""
    _dagster_home()
    import dagster as dg

    from ingestion.contract import ENTITIES

    instance = dg.DagsterInstance.get()
    click.echo("Latest runs:")
    records = instance.get_run_records(limit=runs)
    if not records:
        click.echo("  none yet: `retention run`")
    for record in records:
        run = record.dagster_run
        tags = run.tags
        days = tags.get("dagster/partition") or "{} … {}".format(
            tags.get("dagster/asset_partition_range_start", "-"),
            tags.get("dagster/asset_partition_range_end", "-"),
        )
        took = (
            f"{record.end_time - record.start_time:.0f} s"
            if record.start_time and record.end_time
            else "running"
        )
        click.echo(f"  {run.run_id[:8]}  {run.job_name:<16}{run.status.value:<10}{days:<26}{took}")
    click.echo("Raw tables (daily partitions materialised):")
    for entity in ENTITIES:
        done = sorted(instance.get_materialized_partitions(dg.AssetKey(["raw", entity.table])))
        span = f"{done[0]} … {done[-1]}" if done else "-"
        click.echo(f"  {entity.table:<22}{len(done):>6} day(s)  {span}")
    pending = _pending_days()
    if pending:
        click.echo(
            f"Waiting in landing: files of {len(pending)} day(s), {pending[0]} … {pending[-1]}"
            " (`retention run` loads them)"
        )
    else:
        click.echo("Waiting in landing: nothing")
    event = instance.get_latest_materialization_event(dg.AssetKey(["bi", "read_copy"]))
    if event is None:
        click.echo("BI read copy: not published yet")
    else:
        published = datetime.fromtimestamp(event.timestamp).isoformat(timespec="seconds")
        click.echo(f"BI read copy: published {published} ({settings.paths().bi})")


@main.command()
def summary() -> None:
    """Rows per layer, files in the ledger, quarantined rows, where things are."""
    from orchestration.report import render

    click.echo(render(settings.paths()))


@main.group()
def quarantine() -> None:
    """Rows held back by the data-quality gate (raw.quarantine)."""


def _warehouse_connection():
    import duckdb

    warehouse = settings.paths().warehouse
    if not warehouse.exists():
        raise click.ClickException(f"No warehouse yet at {warehouse}: run `retention run`.")
    return duckdb.connect(str(warehouse), read_only=True)


@quarantine.command("list")
@click.option("--entity", default=None, help="e.g. orders.orders or orders_orders.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def quarantine_list(entity: str | None, limit: int) -> None:
    """The latest quarantined rows: file, row, every reason, the original values."""
    from ingestion import quarantine as held

    try:
        held.normalise_entity(entity)
    except KeyError:
        raise click.BadParameter(f"unknown entity {entity!r}", param_hint="--entity") from None
    with _warehouse_connection() as con:
        click.echo(held.format_list(held.list_rows(con, entity, limit)))


@quarantine.command("summary")
def quarantine_summary() -> None:
    """Quarantined rows by entity and reason, and warn-severity findings."""
    from ingestion import quarantine as held

    with _warehouse_connection() as con:
        click.echo(held.format_summary(con))


@main.command()
@click.option("--customers", default=20_000, show_default=True)
@click.option("--days", default=730, show_default=True)
@click.option(
    "--dirty",
    type=click.FloatRange(0.0, 0.05),
    default=0.005,
    show_default=True,
    help="Share of dirty rows in the generated data, for the quarantine to show.",
)
@click.pass_context
def demo(ctx: click.Context, customers: int, days: int, dirty: float) -> None:
    """Generate demo data (unless landing already has some), run everything, summarise."""
    landing = settings.paths().ensure().landing
    if not any(p.is_file() for p in landing.rglob("*") if "_truth" not in p.parts):
        ctx.invoke(generate, customers=customers, days=days, dirty=dirty)
    else:
        click.echo(f"Landing folder {landing} already has files: not generating.")
    ctx.invoke(run)
    ctx.invoke(summary)


@main.command()
@click.option(
    "--sf", type=float, default=0.1, show_default=True, help="Scale factor: 1 = 100k customers."
)
@click.option("--repeats", default=3, show_default=True, help="Measured runs (median).")
@click.option("--warmups", default=1, show_default=True, help="Unmeasured runs first.")
@click.option(
    "--csv-variant/--no-csv-variant",
    default=True,
    show_default=True,
    help="Also time loading the orders as CSV instead of Parquet.",
)
@click.option("--note", default=None, help="Recorded with the results (e.g. machine load).")
def bench(sf: float, repeats: int, warmups: int, csv_variant: bool, note: str | None) -> None:
    """Time a full build and a one-day increment, stage by stage (bench/results/)."""
    from bench.harness import run_benchmark

    path = run_benchmark(
        sf, repeats=repeats, warmups=warmups, csv_variant=csv_variant, note=note, echo=click.echo
    )
    click.echo(f"Results: {path} and {path.with_suffix('.md')}")


main.add_command(audiences)  # `retention audiences list|export|log` (destinations/cli.py)


if __name__ == "__main__":
    sys.exit(main())
