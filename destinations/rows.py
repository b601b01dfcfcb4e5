"""Reading an audience out of DuckDB, and the value conventions every kind shares."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from destinations import consent

SCHEMA = "audiences"
REQUIRED_COLUMNS = ("audience_name", "customer_id", *consent.CONSENT_COLUMNS)
COMMON_COLUMNS = (
    "audience_name",
    "audience_run_id",
    "as_of_date",
    "customer_id",
    "customer_name",
    "email",
    "phone",
    "country_code",
    "city",
    "company",
    "manager_id",
    "manager_name",
    "customer_category",
    "recommended_channel",
    "recommended_action",
    "priority_score",
    "reason_codes",
    "reason_text",
    "is_control",
    "marketing_allowed",
    "contact_allowed",
)
# Change every day for every row; left out of the row hash so a diff only sees real changes.
VOLATILE_COLUMNS = ("audience_run_id", "as_of_date")


class AudienceError(RuntimeError):
    """The audience table cannot be delivered as it is (shape, duplicates, mixed runs)."""


class AudienceMissing(AudienceError):
    """The audience table does not exist (yet)."""


@dataclass(frozen=True)
class Audience:
    """The consented rows of one audience for one purpose, ordered by customer_id."""

    name: str
    audience_run_id: str
    as_of_date: dt.date | None
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) of the table, in order
    rows: tuple[dict[str, Any], ...]  # consent-filtered, every column
    total_rows: int  # before the consent filter


def table_name(audience: str) -> str:
    return f'{SCHEMA}."audience_{audience}"'


def audience_exists(con, audience: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [SCHEMA, f"audience_{audience}"],
        ).fetchone()[0]
    )


def _columns(con, audience: str) -> tuple[tuple[str, str], ...]:
    cursor = con.execute(f"select * from {table_name(audience)} limit 0")
    return tuple((d[0], str(d[1])) for d in cursor.description)


def audience_run(con, audience: str) -> tuple[str, dt.date | None]:
    """(audience_run_id, as_of_date) of the table's current contents, without reading rows.

    Raises :class:`AudienceMissing` when the table does not exist and :class:`AudienceError`
    when it lacks the required columns or mixes several runs.
    """
    if not audience_exists(con, audience):
        raise AudienceMissing(
            f"audience table {SCHEMA}.audience_{audience} does not exist (build the dbt "
            "audience models first)"
        )
    names = [c for c, _ in _columns(con, audience)]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise AudienceError(f"{SCHEMA}.audience_{audience} lacks columns {missing}")
    runs = con.execute(
        f"select distinct {'audience_run_id' if 'audience_run_id' in names else 'null'}, "
        f"{'as_of_date' if 'as_of_date' in names else 'null'} from {table_name(audience)}"
    ).fetchall()
    if len(runs) > 1:
        raise AudienceError(
            f"{SCHEMA}.audience_{audience} mixes {len(runs)} runs "
            f"({', '.join(sorted(str(r[0]) for r in runs)[:3])} …): one run per delivery"
        )
    run_id, as_of = runs[0] if runs else (None, None)
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if run_id is None:
        run_id = f"{audience}:{as_of.isoformat() if as_of else 'empty'}"
    return str(run_id), as_of


def read_audience(con, audience: str, purpose: str) -> Audience:
    """The rows of ``audiences.audience_<audience>`` that ``purpose`` may receive."""
    run_id, as_of = audience_run(con, audience)
    columns = _columns(con, audience)
    names = [c for c, _ in columns]
    table = table_name(audience)
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    cursor = con.execute(
        f"select * from {table} where {consent.sql_predicate(purpose)} order by customer_id"
    )
    rows = tuple(dict(zip(names, r, strict=True)) for r in cursor.fetchall())
    seen: set[str] = set()
    for row in rows:
        if row["audience_name"] != audience:
            raise AudienceError(
                f"{SCHEMA}.audience_{audience} holds a row of audience {row['audience_name']!r}"
            )
        key = str(row["customer_id"])
        if key in seen:
            raise AudienceError(f"{SCHEMA}.audience_{audience}: customer {key!r} twice")
        seen.add(key)
    return Audience(audience, run_id, as_of, columns, rows, total)


def jsonable(value: Any) -> Any:
    """A JSON-ready copy: dates ISO 8601, decimals as numbers, lists and maps recursively."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


def canonical_json(row: Mapping[str, Any]) -> str:
    return json.dumps(jsonable(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of the delivered row without its volatile columns (run id, as-of date)."""
    stable = {k: v for k, v in row.items() if k not in VOLATILE_COLUMNS}
    return hashlib.sha256(canonical_json(stable).encode("utf-8")).hexdigest()


def audience_tables(con) -> list[str]:
    """Audience names of the ``audiences.audience_*`` tables shaped like an audience: key and
    consent columns, and only rows of that audience (``audience_outcomes``,
    ``audience_membership_history`` and the like are not audiences)."""
    tables = [
        t
        for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? and "
            "table_name like 'audience\\_%' escape '\\' order by 1",
            [SCHEMA],
        ).fetchall()
    ]
    out = []
    for table in tables:
        name = table[len("audience_") :]
        names = {c for c, _ in _columns(con, name)}
        if not all(c in names for c in REQUIRED_COLUMNS):
            continue
        # An audience holds only its own rows (audience_membership_history holds them all).
        others = con.execute(
            f"select count(*) from {table_name(name)} where audience_name is distinct from ?",
            [name],
        ).fetchone()[0]
        if not others:
            out.append(name)
    return out


def audience_sizes(con, audiences: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows per audience table: total, control, and how many each purpose may receive."""
    out = []
    for name in audiences if audiences is not None else audience_tables(con):
        if not audience_exists(con, name):
            out.append({"audience": name, "exists": False})
            continue
        table = table_name(name)
        cols = {c for c, _ in _columns(con, name)}
        as_of = "max(as_of_date)" if "as_of_date" in cols else "null"
        total, control, marketing, sales, as_of_date = con.execute(
            f"select count(*), count(*) filter (where is_control), "
            f"count(*) filter (where {consent.sql_predicate('marketing')}), "
            f"count(*) filter (where {consent.sql_predicate('sales')}), {as_of} from {table}"
        ).fetchone()
        out.append(
            {
                "audience": name,
                "exists": True,
                "as_of_date": as_of_date,
                "rows": total,
                "control": control,
                "marketing_eligible": marketing,
                "sales_eligible": sales,
            }
        )
    return out
