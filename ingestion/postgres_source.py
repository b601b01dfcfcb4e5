"""A CRM that lives in PostgreSQL: stream its tables out as CSV files the loader ingests.

For every CRM entity of the contract (``crm.customers``, ``crm.managers``, ``crm.activities``)
the matching PostgreSQL table is copied out with ``COPY (SELECT …) TO STDOUT (FORMAT csv,
HEADER)`` into ``<out_dir>/<raw table>.csv`` (e.g. ``crm_customers.csv``):

* only the contract's columns are selected, in contract order; contract columns the table
  lacks are left out (the loader treats absent optional columns as null and rejects a batch
  that lacks a required one), extra columns of the table are ignored;
* rows are ordered by the entity key, so an unchanged table exports byte-identical content
  (the loader skips content it has already seen by sha256);
* values are written as PostgreSQL prints them in CSV (booleans ``t``/``f``, timestamps
  ``2025-01-02 03:04:05``); ``timestamptz`` columns are converted to UTC wall-clock time
  first so the output does not depend on the server's or session's time zone;
* data is streamed to disk chunk by chunk, never held whole in Python memory, and a file
  only appears once it is complete;
* all tables are read in one read-only REPEATABLE READ transaction: one consistent snapshot.

Identifiers are always composed with :mod:`psycopg.sql`, never formatted into SQL text.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ingestion.contract import ENTITIES, Entity, entity

CRM_ENTITIES: tuple[Entity, ...] = tuple(e for e in ENTITIES if e.source == "crm")

# Types a contract TIMESTAMP column may have in PostgreSQL that need converting to UTC.
_TIMESTAMPTZ = "timestamptz"
_WRITE_BUFFER = 1 << 20


class PostgresSourceError(RuntimeError):
    """The PostgreSQL CRM cannot be exported as asked."""


class MissingTableError(PostgresSourceError, LookupError):
    """A table the export needs does not exist (or is not visible to the user)."""


def resolve_table(
    ent: Entity, tables: Mapping[str, str] | None = None, schema: str = "public"
) -> tuple[str, str]:
    """The ``(schema, table)`` in PostgreSQL holding ``ent``.

    ``tables`` maps the entity's raw table name (``crm_customers``; ``crm.customers`` works
    too) to the PostgreSQL table name; a value ``"other_schema.table"`` overrides ``schema``.
    Without an entry the table is ``entity.name`` (``customers``) in ``schema``.
    """
    mapping = _normalise_tables(tables)
    name = mapping.get(ent.table, ent.name)
    if "." in name:
        other_schema, _, table = name.partition(".")
        return other_schema, table
    return schema, name


def server_label(dsn: str) -> str:
    """A secret-free label for the database of ``dsn``: ``postgresql://host:port/db``.

    User names, passwords and every other connection parameter are dropped; values missing
    from the DSN fall back to the libpq environment (``PGHOST`` …) and then libpq defaults.
    """
    params = _parse_dsn(dsn)
    host = params.get("host") or params.get("hostaddr") or os.environ.get("PGHOST") or "localhost"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    dbname = (
        params.get("dbname")
        or os.environ.get("PGDATABASE")
        or params.get("user")
        or os.environ.get("PGUSER")
        or "postgres"
    )
    if host.startswith(("/", "@")):  # a unix-socket directory: keep the label one token
        host = urllib.parse.quote(host, safe="")
    return f"postgresql://{host}:{port}/{urllib.parse.quote(dbname, safe='')}"


def source_label(dsn: str, table: str, schema: str = "public") -> str:
    """A secret-free label for a PostgreSQL table: ``postgresql://host:port/db/schema.table``.

    ``table`` may be schema-qualified (``crm.customers``); otherwise ``schema`` is used.
    See :func:`server_label` for what is kept of the DSN (never the password).
    """
    qualified = table if "." in table else f"{schema}.{table}"
    return f"{server_label(dsn)}/{qualified}"


def export_tables(
    dsn: str,
    out_dir: Path,
    tables: Mapping[str, str] | None = None,
    schema: str = "public",
    entities: Sequence[Entity] = CRM_ENTITIES,
) -> list[tuple[Entity, Path]]:
    """Export the CRM tables of the PostgreSQL database at ``dsn`` as CSV files in ``out_dir``.

    ``entities`` limits the export to some CRM entities (one ingestion asset pulls one table).

    Returns ``(entity, path)`` pairs in contract order. Raises :class:`MissingTableError`
    naming the table when one does not exist and :class:`PostgresSourceError` when a table
    lacks its key columns; both are checked for every table before any file is written.
    """
    out_dir = Path(out_dir)
    _normalise_tables(tables)  # reject unknown entries before connecting
    server = server_label(dsn)  # also rejects a malformed DSN without echoing it
    try:
        conn = psycopg.connect(dsn)
    except psycopg.Error as exc:
        raise PostgresSourceError(f"cannot connect to {server}: {exc}") from None
    with conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            _set_session(conn)
            plans = []
            for ent in entities:
                pg_schema, pg_table = resolve_table(ent, tables, schema)
                label = f"{server}/{pg_schema}.{pg_table}"
                query = _export_query(conn, ent, pg_schema, pg_table, label)
                plans.append((ent, query))
            out_dir.mkdir(parents=True, exist_ok=True)
            return [
                (ent, _copy_to_file(conn, query, out_dir / f"{ent.table}.csv"))
                for ent, query in plans
            ]


# --------------------------------------------------------------------------------------------


def _normalise_tables(tables: Mapping[str, str] | None) -> dict[str, str]:
    if not tables:
        return {}
    crm_tables = {e.table for e in CRM_ENTITIES}
    out: dict[str, str] = {}
    for key, value in tables.items():
        try:
            ent = entity(key)
        except KeyError:
            ent = None
        if ent is None or ent.table not in crm_tables:
            raise ValueError(
                f"unknown CRM entity {key!r} in tables mapping; expected one of "
                f"{sorted(crm_tables)}"
            )
        if not value or not isinstance(value, str):
            raise ValueError(f"tables[{key!r}] must be a non-empty table name")
        out[ent.table] = value
    return out


def _parse_dsn(dsn: str) -> dict[str, str]:
    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except psycopg.Error:
        # The parser's message may quote the DSN, password included: do not pass it on.
        raise ValueError("invalid PostgreSQL connection string") from None


def _set_session(conn: psycopg.Connection) -> None:
    """Pin the settings that change how values are printed, whatever the server defaults."""
    for name, value in (
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, YMD"),
        ("TimeZone", "UTC"),
        ("IntervalStyle", "postgres"),
        ("extra_float_digits", "1"),
    ):
        conn.execute("SELECT pg_catalog.set_config(%s, %s, true)", (name, value))


def _table_columns(
    conn: psycopg.Connection, pg_schema: str, pg_table: str
) -> dict[str, str] | None:
    """Column name → type name of a table/view/matview/foreign table; None if it is absent."""
    exists = conn.execute(
        """
        SELECT c.oid
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        """,
        (pg_schema, pg_table),
    ).fetchone()
    if exists is None:
        return None
    rows = conn.execute(
        """
        SELECT a.attname, t.typname
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        (exists[0],),
    ).fetchall()
    return {name: typ for name, typ in rows}


def _export_query(
    conn: psycopg.Connection, ent: Entity, pg_schema: str, pg_table: str, label: str
) -> sql.Composed:
    columns = _table_columns(conn, pg_schema, pg_table)
    if columns is None:
        raise MissingTableError(
            f"PostgreSQL table {pg_schema}.{pg_table} for {ent.qualified_name} does not exist "
            f"({label})"
        )
    missing_key = [k for k in ent.key if k not in columns]
    if missing_key:
        raise PostgresSourceError(
            f"PostgreSQL table {pg_schema}.{pg_table} for {ent.qualified_name} lacks key "
            f"column(s) {', '.join(missing_key)} ({label})"
        )
    select = []
    for col in ent.columns:
        if col.name not in columns:
            continue
        ident = sql.Identifier(col.name)
        if col.type == "TIMESTAMP" and columns[col.name] == _TIMESTAMPTZ:
            select.append(sql.SQL("({} AT TIME ZONE 'UTC') AS {}").format(ident, ident))
        else:
            select.append(ident)
    return sql.SQL(
        "COPY (SELECT {cols} FROM {table} ORDER BY {key}) TO STDOUT WITH (FORMAT csv, HEADER)"
    ).format(
        cols=sql.SQL(", ").join(select),
        table=sql.Identifier(pg_schema, pg_table),
        key=sql.SQL(", ").join(sql.Identifier(k) for k in ent.key),
    )


def _copy_to_file(conn: psycopg.Connection, query: sql.Composed, path: Path) -> Path:
    """Stream one COPY into ``path``; the file appears only once it is complete."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as fh:
            with conn.cursor() as cur, cur.copy(query) as copy:
                for chunk in copy:
                    fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
