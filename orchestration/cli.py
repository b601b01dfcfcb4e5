"""`retention …`: everyday tasks from a terminal."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import date
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


@main.command()
@click.option("--job", default="retention_daily", show_default=True)
def run(job: str) -> None:
    """Materialise the job through Dagster, recorded in DAGSTER_HOME (visible in the UI)."""
    _dagster_home()
    from orchestration.resources import DBT_PROJECT_DIR, ensure_manifest

    if ensure_manifest(DBT_PROJECT_DIR):
        click.echo("dbt project changed: manifest re-parsed.")
    import dagster as dg

    from orchestration.definitions import defs

    click.echo(f"Running Dagster job {job} …")
    result = defs.get_job_def(job).execute_in_process(instance=dg.DagsterInstance.get())
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    if not result.success:
        raise click.ClickException(f"job {job} failed at: {', '.join(failed) or 'unknown step'}")
    click.echo(f"Run {result.run_id} succeeded.")


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
