"""``retention audiences …``: audience sizes and exports for the marketing team.

Registered on the ``retention`` CLI by ``orchestration/cli.py``; the work is done by
:mod:`destinations.sync`."""

from __future__ import annotations

import click
import duckdb

from destinations import state
from destinations.config import ConfigError, load_config
from destinations.rows import audience_sizes, audience_tables
from ingestion import settings


def _connect(read_only: bool = False) -> duckdb.DuckDBPyConnection:
    warehouse = settings.paths().ensure().warehouse
    if read_only and not warehouse.exists():
        raise click.ClickException(f"no warehouse at {warehouse}: run `retention run` first")
    return duckdb.connect(str(warehouse), read_only=read_only)


def _config():
    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def audiences() -> None:
    """Audience sizes and deliveries to the destinations of destinations.yml."""


@audiences.command("list")
def list_audiences() -> None:
    """Rows per audience: total, control group, reachable for marketing and for sales."""
    config = _config()
    with _connect(read_only=True) as con:
        sizes = audience_sizes(con, list(dict.fromkeys([*config.audiences, *audience_tables(con)])))
    header = f"{'audience':<20}{'as of':<12}{'rows':>9}{'control':>9}{'marketing':>11}{'sales':>9}"
    click.echo(header)
    click.echo("─" * len(header))
    for s in sizes:
        if not s["exists"]:
            click.echo(f"{s['audience']:<20}{'(not built yet)':<12}")
            continue
        click.echo(
            f"{s['audience']:<20}{s['as_of_date']!s:<12}{s['rows']:>9,}{s['control']:>9,}"
            f"{s['marketing_eligible']:>11,}{s['sales_eligible']:>9,}"
        )
    click.echo("")
    click.echo("destinations:")
    for d in config.destinations:
        missing = d.missing_env()
        note = f"  (skipped: {', '.join(missing)} not set)" if missing else ""
        click.echo(f"  {d.name:<22}{d.kind:<28}{d.purpose:<10}{', '.join(d.audiences)}{note}")


@audiences.command()
@click.option("--audience", "audience_names", multiple=True, help="Audience (repeatable).")
@click.option("--destination", "destination_names", multiple=True, help="Destination (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Every destination × audience.")
@click.option("--full", is_flag=True, help="Send everything, not only the changes.")
@click.option("--run-tag", default=None, help="Suffix for the run id, to deliver a run again.")
def export(audience_names, destination_names, everything, full, run_tag) -> None:
    """Deliver audiences: `--audience win_back --destination crm_postgres`, or `--all`."""
    if not (audience_names or destination_names or everything):
        raise click.UsageError("name an --audience and/or a --destination, or pass --all")
    if everything and (audience_names or destination_names):
        raise click.UsageError("--all cannot be combined with --audience or --destination")
    config = _config()
    try:
        pairs = config.pairs(list(audience_names) or None, list(destination_names) or None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not pairs:
        raise click.ClickException("no destination takes that audience (see destinations.yml)")
    from destinations.sync import sync_one

    with _connect() as con:
        results = [
            sync_one(con, d, a, full=full, run_tag=run_tag, log=_EchoLog()) for d, a in pairs
        ]
    click.echo("")
    header = f"{'destination':<22}{'audience':<18}{'status':<19}{'+':>7}{'~':>7}{'-':>7}  where"
    click.echo(header)
    click.echo("─" * len(header))
    for r in results:
        where = r.location if r.status == state.SUCCESS else (r.error or "")
        click.echo(
            f"{r.destination:<22}{r.audience_name:<18}{r.status:<19}{r.rows_added:>7,}"
            f"{r.rows_changed:>7,}{r.rows_removed:>7,}  {where}"
        )
    failed = [r for r in results if r.status == state.FAILED]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(results)} deliveries failed")


@audiences.command("log")
@click.option("--limit", default=20, show_default=True)
def show_log(limit: int) -> None:
    """The latest deliveries from audiences.sync_log."""
    with _connect() as con:
        state.ensure_tables(con)
        rows = state.recent_log(con, limit)
    for r in rows:
        click.echo(
            f"{r['started_at']:%Y-%m-%d %H:%M:%S}  {r['destination']:<22}{r['audience_name']:<18}"
            f"{r['mode']:<5} {r['status']:<18} +{r['rows_added'] or 0} ~{r['rows_changed'] or 0} "
            f"-{r['rows_removed'] or 0}  {r['run_id']}" + (f"  {r['error']}" if r["error"] else "")
        )


class _EchoLog:
    """A logger-shaped sink that prints progress to the terminal."""

    def info(self, message: str) -> None:
        click.echo(message)

    def warning(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    def error(self, message: str) -> None:
        click.echo(f"error: {message}", err=True)
