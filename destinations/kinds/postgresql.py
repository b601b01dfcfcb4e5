"""``postgresql``: upsert the audience into a table of another database (e.g. the CRM's own).

One table per destination (options ``schema``, default ``public``; ``table``, default
``retention_audiences``), keyed by ``(audience_name, customer_id)``, created when missing:

    audience_name, customer_id, audience_run_id, as_of_date, customer_name, email, phone,
    country_code, city, company, manager_id, manager_name, customer_category,
    recommended_channel, recommended_action, priority_score, reason_codes, reason_text,
    extras jsonb (the audience's own columns), synced_run_id, synced_at

Each delivery is ONE transaction: the table is locked against concurrent syncs, the rows are
COPYed into a temporary table, upserted (``insert … on conflict (audience_name, customer_id)
do update``) and the audience's removed customers deleted; any error rolls everything back.
In diff mode only added and changed rows are written, so ``audience_run_id``/``as_of_date``
of a row say when it last changed; ``--full`` rewrites every row and deletes every row of the
audience that is no longer in it. An existing table must have these columns and a unique key
on ``(audience_name, customer_id)``; it may have more (with defaults).

The DSN comes from the environment variable named by ``dsn_env``; only a secret-free label
(``postgresql://host:port/db/schema.table``) is ever logged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from destinations.kinds.base import Kind, Outcome, Plan
from destinations.rows import COMMON_COLUMNS, jsonable
from ingestion.postgres_source import server_label

# (column, PostgreSQL type, constraint) of the delivered table.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("audience_name", "text", "not null"),
    ("customer_id", "text", "not null"),
    ("audience_run_id", "text", ""),
    ("as_of_date", "date", ""),
    ("customer_name", "text", ""),
    ("email", "text", ""),
    ("phone", "text", ""),
    ("country_code", "text", ""),
    ("city", "text", ""),
    ("company", "text", ""),
    ("manager_id", "text", ""),
    ("manager_name", "text", ""),
    ("customer_category", "text", ""),
    ("recommended_channel", "text", ""),
    ("recommended_action", "text", ""),
    ("priority_score", "numeric", ""),
    ("reason_codes", "text", ""),
    ("reason_text", "text", ""),
    ("extras", "jsonb", "not null default '{}'::jsonb"),
    ("synced_run_id", "text", "not null"),
    ("synced_at", "timestamptz", "not null default now()"),
)
SYNC_COLUMNS = ("synced_run_id", "synced_at")
DATA_COLUMNS = tuple(c for c, _, _ in TABLE_COLUMNS if c not in SYNC_COLUMNS)
TEXT_COLUMNS = tuple(c for c, t, _ in TABLE_COLUMNS if t == "text" and c not in SYNC_COLUMNS)
KEY = ("audience_name", "customer_id")


def _columns_sql(columns: tuple[tuple[str, str, str], ...], constraints: bool) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(
            sql.Identifier(c), sql.SQL(f"{t} {k}".strip() if constraints else t)
        )
        for c, t, k in columns
    )


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


class PostgresKind(Kind):
    name = "postgresql"
    options: ClassVar[frozenset[str]] = frozenset({"dsn_env", "schema", "table"})
    required_env: ClassVar[frozenset[str]] = frozenset({"dsn_env"})
    dagster_kinds: ClassVar[frozenset[str]] = frozenset({"postgres", "python"})

    @classmethod
    def validate(cls, purpose, options) -> None:
        super().validate(purpose, options)
        for option in ("schema", "table"):
            if option in options and not (isinstance(options[option], str) and options[option]):
                raise ValueError(f"{option} must be a non-empty name")

    @property
    def schema(self) -> str:
        return self.destination.options.get("schema", "public")

    @property
    def table(self) -> str:
        return self.destination.options.get("table", "retention_audiences")

    def location(self) -> str:
        dsn = self.destination.secret("dsn_env")
        server = server_label(dsn) if dsn else "postgresql://(unset)"
        return f"{server}/{self.schema}.{self.table}"

    def project(self, row: Mapping[str, Any], columns) -> dict | None:
        names = {c for c, _ in columns}
        out = {c: row.get(c) if c in names else None for c in DATA_COLUMNS if c != "extras"}
        for c in TEXT_COLUMNS:
            out[c] = _text(out[c])
        out["extras"] = {c: jsonable(row.get(c)) for c, _ in columns if c not in COMMON_COLUMNS}
        return out

    def deliver(self, plan: Plan) -> Outcome:
        dsn = self.destination.secret("dsn_env")
        if not dsn:
            raise RuntimeError(f"{self.destination.options['dsn_env']} is not set")
        target = sql.Identifier(self.schema, self.table)
        location = self.location()
        with (
            psycopg.connect(dsn, connect_timeout=15, application_name="retention-sync") as conn,
            conn.transaction(),
        ):
            self._ensure_table(conn)
            conn.execute(sql.SQL("lock table {} in share row exclusive mode").format(target))
            conn.execute(
                sql.SQL("create temporary table _retention_stage ({}) on commit drop").format(
                    _columns_sql(tuple(c for c in TABLE_COLUMNS if c[0] in DATA_COLUMNS), False)
                )
            )
            upserts = plan.upserts
            with conn.cursor().copy(
                sql.SQL("copy _retention_stage ({}) from stdin").format(
                    sql.SQL(", ").join(map(sql.Identifier, DATA_COLUMNS))
                )
            ) as copy:
                for _, row in upserts:
                    copy.write_row(
                        [
                            json.dumps(row[c], ensure_ascii=False) if c == "extras" else row[c]
                            for c in DATA_COLUMNS
                        ]
                    )
            updates = [c for c in (*DATA_COLUMNS, "synced_run_id") if c not in KEY]
            written = conn.execute(
                sql.SQL(
                    "insert into {t} ({cols}, synced_run_id, synced_at) "
                    "select {cols}, %s, now() from _retention_stage "
                    "on conflict (audience_name, customer_id) do update set {sets}, "
                    "synced_at = now()"
                ).format(
                    t=target,
                    cols=sql.SQL(", ").join(map(sql.Identifier, DATA_COLUMNS)),
                    sets=sql.SQL(", ").join(
                        sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in updates
                    ),
                ),
                [plan.run_id],
            ).rowcount
            if plan.mode == "full":
                deleted = conn.execute(
                    sql.SQL(
                        "delete from {t} t where t.audience_name = %s and not exists "
                        "(select 1 from _retention_stage s where s.customer_id = t.customer_id)"
                    ).format(t=target),
                    [plan.audience],
                ).rowcount
            else:
                deleted = conn.execute(
                    sql.SQL(
                        "delete from {t} where audience_name = %s and customer_id = any(%s)"
                    ).format(t=target),
                    [plan.audience, [c.customer_id for c in plan.removed]],
                ).rowcount
        return Outcome(
            location=location, details={"rows_upserted": written, "rows_deleted": deleted}
        )

    def _ensure_table(self, conn: psycopg.Connection) -> None:
        exists = conn.execute(
            "select to_regclass(%s) is not null",
            [sql.Identifier(self.schema, self.table).as_string(conn)],
        ).fetchone()[0]
        if not exists:
            has_schema = conn.execute(
                "select exists (select 1 from pg_namespace where nspname = %s)", [self.schema]
            ).fetchone()[0]
            if not has_schema:
                conn.execute(sql.SQL("create schema {}").format(sql.Identifier(self.schema)))
            conn.execute(
                sql.SQL(
                    "create table {t} ({cols}, primary key (audience_name, customer_id))"
                ).format(
                    t=sql.Identifier(self.schema, self.table),
                    cols=_columns_sql(TABLE_COLUMNS, True),
                )
            )
            return
        present = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                [self.schema, self.table],
            ).fetchall()
        }
        missing = [c for c, _, _ in TABLE_COLUMNS if c not in present]
        if missing:
            raise RuntimeError(f"table {self.schema}.{self.table} exists without columns {missing}")
