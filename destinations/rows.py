"""Reading an audience out of DuckDB, and the value conventions every kind shares.

An audience is read once, as an Arrow table. Kinds whose rows are the audience's own columns
are hashed and written column by column from it (:class:`RowTable`), without a Python object
per value; the row dicts are read only for the kinds that use them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import itertools
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import encode_basestring
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    purpose: str
    audience_run_id: str
    as_of_date: dt.date | None
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) of the table, in order
    table: pa.Table  # consent-filtered, every column
    total_rows: int  # before the consent filter
    con: Any = field(repr=False, compare=False)
    query: str = field(repr=False, compare=False)

    @cached_property
    def rows(self) -> tuple[dict[str, Any], ...]:
        """The same rows as Python dicts, every column: read again on first use (by kinds that
        shape or send rows one by one) and checked for consent like the table."""
        names = [c for c, _ in self.columns]
        rows = tuple(
            dict(zip(names, r, strict=True)) for r in self.con.execute(self.query).fetchall()
        )
        consent.check(rows, self.purpose)
        return rows

    def values(self, column: str) -> list[Any]:
        """One column's values as :attr:`rows` hold them (from Arrow for text: the same)."""
        if dict(self.columns)[column] == "VARCHAR":
            return self.table.column(column).to_pylist()
        return [row[column] for row in self.rows]

    @cached_property
    def customer_ids(self) -> list[str]:
        return [str(v) for v in self.values("customer_id")]


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
    table = table_name(audience)
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    query = f"select * from {table} where {consent.sql_predicate(purpose)} order by customer_id"
    con.complete()  # a relation (Arrow without a copy) waits for an open execute() result
    arrow = con.sql(query).to_arrow_table()
    data = Audience(audience, purpose, run_id, as_of, columns, arrow, total, con, query)
    names = data.table.column("audience_name")
    ids = data.customer_ids
    if (
        pa.types.is_string(names.type)
        and not names.null_count
        and pc.all(pc.equal(names, audience), min_count=0).as_py()
        and len(set(ids)) == len(ids)
    ):
        return data
    seen: set[str] = set()  # something is wrong: report the first row at fault
    for name, key in zip(data.values("audience_name"), ids, strict=True):
        if name != audience:
            raise AudienceError(f"{SCHEMA}.audience_{audience} holds a row of audience {name!r}")
        if key in seen:
            raise AudienceError(f"{SCHEMA}.audience_{audience}: customer {key!r} twice")
        seen.add(key)
    return data


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


# Rows are joined into text this many at a time: bounded memory, and far below the 2 GB an
# Arrow string array holds.
BATCH_ROWS = 65536
# DuckDB types whose Arrow columns RowTable turns into text with Arrow compute. Each gives,
# byte for byte, what the Python value (str, bool, int, float, Decimal, date, datetime) gives
# in jsonable/json.dumps and csv_cell; every other type (HUGEINT is a decimal in Arrow but an
# int in Python, time zones, UUIDs, lists, …) goes through the Python values.
_ARROW_CATEGORIES = {
    "VARCHAR": "str",
    "BOOLEAN": "bool",
    "FLOAT": "float",
    "DOUBLE": "float",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    **dict.fromkeys(("TINYINT", "SMALLINT", "INTEGER", "BIGINT"), "int"),
    **dict.fromkeys(("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"), "int"),
}
_DECIMAL_TYPE = re.compile(r"DECIMAL\(\d+,\s*\d+\)")
# Python's first and last date (days since 1970) and datetime (µs): DuckDB's infinities fetch
# as these in Python but are other numbers in Arrow.
_EPOCH = dt.datetime(1970, 1, 1)
_RANGES = {
    "date": (pa.int32(), (dt.date.min - _EPOCH.date()).days, (dt.date.max - _EPOCH.date()).days),
    "timestamp": (
        pa.int64(),
        (dt.datetime.min - _EPOCH) // dt.timedelta(microseconds=1),
        (dt.datetime.max - _EPOCH) // dt.timedelta(microseconds=1),
    ),
}
# What json's encode_basestring escapes (ensure_ascii off); every other string it just quotes.
_JSON_ESCAPED = r'[\x00-\x1f"\\]'


def join_rows(parts: list[str | pa.Array], start: int, stop: int) -> pa.Array:
    """Rows ``start:stop`` of the texts made by concatenating ``parts`` (string arrays without
    nulls, and strings repeated on every row)."""
    parts = [p.slice(start, stop - start) if isinstance(p, pa.Array) else p for p in parts]
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array(["".join(parts)] * (stop - start), pa.string())
    return pc.binary_join_element_wise(*parts, "")


def text_buffers(texts: pa.Array) -> tuple[memoryview, memoryview]:
    """(offsets, UTF-8 data) of a string array without nulls: text i is
    ``data[offsets[i]:offsets[i + 1]]``."""
    _, offsets, data = texts.buffers()
    offsets = memoryview(offsets).cast("i")[texts.offset : texts.offset + len(texts) + 1]
    return offsets, memoryview(data if data is not None else b"")


def json_object_parts(items: list[tuple[str, pa.Array]], separators=(", ", ": ")) -> list:
    """:func:`join_rows` parts of a JSON object per row, keys as json.dumps writes them."""
    item_sep, key_sep = separators
    parts: list[str | pa.Array] = []
    for i, (key, texts) in enumerate(items):
        parts += [("{" if i == 0 else item_sep) + encode_basestring(key) + key_sep, texts]
    parts.append("}" if items else "{}")
    return parts


def any_byte(strings: pa.Array, ascii: bytes, below: int = 0) -> bool:
    """Whether a byte of ``ascii``, or below ``below``, is anywhere in the data of a string
    array: a few vectorised passes instead of a regex per value (UTF-8 writes ASCII characters
    only as themselves). Only a hint: the values are then checked one by one."""
    data = strings.buffers()[2]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)
    return raw.size > 0 and (raw.min() < below or any((raw == b).any() for b in ascii))


def json_strings(strings: pa.Array) -> pa.Array:
    """encode_basestring of each string (null stays null)."""
    texts = pc.binary_join_element_wise('"', strings, '"', "")
    if not any_byte(strings, b'"\\', below=0x20):
        return texts
    escaped = pc.fill_null(pc.match_substring_regex(strings, _JSON_ESCAPED), False)
    if pc.any(escaped).as_py():
        fixed = [encode_basestring(v) for v in strings.filter(escaped).to_pylist()]
        texts = pc.replace_with_mask(texts, escaped, pa.array(fixed, pa.string()))
    return texts


def isoformat_texts(array: pa.Array) -> pa.Array:
    """value.isoformat() of each date or timestamp[us] (within Python's range): Arrow writes
    "2026-10-31 14:53:27.000000" for datetime's "2026-10-31T14:53:27"."""
    texts = array.cast(pa.string())
    if pa.types.is_timestamp(array.type):
        texts = pc.replace_substring(texts, " ", "T", max_replacements=1)
        texts = pc.replace_substring_regex(texts, r"\.000000$", "")
    return texts


def _category(duckdb_type: str | None) -> str | None:
    if duckdb_type and _DECIMAL_TYPE.fullmatch(duckdb_type):
        return "decimal"
    return _ARROW_CATEGORIES.get(duckdb_type or "")


class RowTable:
    """Delivered rows column by column, for the vectorised row hash and file writers.

    ``columns`` are (name, DuckDB type); ``ids`` the customer_id of each row; ``table`` the
    rows as Arrow (None when there are only dicts); ``values(name)`` the Python values of a
    column, as the row dicts hold them, for the columns Arrow does not cover.
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str | None]],
        ids: list[str],
        table: pa.Table | None,
        values: Callable[[str], list[Any]],
    ) -> None:
        self.columns = list(columns)
        self.names = [c for c, _ in self.columns]
        self.ids = ids
        self._values = values
        self._arrow: dict[str, tuple[str, pa.Array]] = {}
        self._cache: dict[tuple[str, ...], Any] = {}
        for name, duckdb_type in self.columns:
            category = _category(duckdb_type)
            if table is None or category is None or name not in table.column_names:
                continue
            array = table.column(name).combine_chunks()
            if category == "str":
                array = array.cast(pa.string())  # a string view or large string alike
            if category in _RANGES:
                number, first, last = _RANGES[category]
                span = pc.min_max(array.cast(number)).as_py()
                if span["min"] is not None and not first <= span["min"] <= span["max"] <= last:
                    continue
            self._arrow[name] = (category, array)

    def __len__(self) -> int:
        return len(self.ids)

    def arrow(self, name: str) -> tuple[str, pa.Array] | None:
        """(category, Arrow array) of a column encoded with Arrow compute, else None."""
        return self._arrow.get(name)

    def values(self, name: str) -> list[Any]:
        key = ("values", name)
        if key not in self._cache:
            self._cache[key] = self._values(name)
        return self._cache[key]

    def float_texts(self, name: str) -> pa.Array:
        """repr(float(value)) of a float or decimal column (null stays null), one repr per
        distinct value: float(Decimal) is float(str(Decimal)), and Arrow's decimal text is
        the same number."""
        key = ("float", name)
        if key not in self._cache:
            category, array = self._arrow[name]
            if category == "decimal":
                encoded = array.dictionary_encode()
                decimals = encoded.dictionary.cast(pa.string()).to_pylist()
                distinct = [repr(float(v)) for v in decimals]
            else:  # by bit pattern: 0.0 and -0.0 print differently
                encoded = array.cast(pa.float64()).view(pa.int64()).dictionary_encode()
                distinct = [repr(v) for v in encoded.dictionary.view(pa.float64()).to_pylist()]
            self._cache[key] = pa.array(distinct, pa.string()).take(encoded.indices)
        return self._cache[key]

    def json(self, name: str, canonical: bool = False) -> pa.Array:
        """Each value as json.dumps(jsonable(row)) writes it inside a row: ``canonical`` as in
        :func:`canonical_json` (only nested values differ: sorted keys, no spaces)."""
        arrow = self._arrow.get(name)
        key = ("json", name, *(["canonical"] if canonical and arrow is None else []))
        if key in self._cache:
            return self._cache[key]
        if arrow is None:
            options = {"sort_keys": True, "separators": (",", ":")} if canonical else {}
            texts = pa.array(
                [json.dumps(jsonable(v), ensure_ascii=False, **options) for v in self.values(name)],
                pa.string(),
            )
        else:
            category, array = arrow
            if category == "str":
                texts = json_strings(array)
            elif category in ("date", "timestamp"):
                texts = pc.binary_join_element_wise('"', isoformat_texts(array), '"', "")
            elif category == "float":  # jsonable turns NaN and infinities into null
                texts = pc.if_else(pc.is_finite(array), self.float_texts(name), None)
            elif category == "decimal":
                texts = self.float_texts(name)
            else:  # bool, int: true/false and digits, as json writes them
                texts = array.cast(pa.string())
            texts = pc.fill_null(texts, "null")
        self._cache[key] = texts
        return texts

    def hashes(self) -> list[str]:
        """:func:`row_hash` of every row."""
        keys = sorted(n for n in self.names if n not in VOLATILE_COLUMNS)
        parts = json_object_parts([(k, self.json(k, canonical=True)) for k in keys], (",", ":"))
        out: list[str] = []
        for start in range(0, len(self), BATCH_ROWS):
            rows = join_rows(parts, start, min(len(self), start + BATCH_ROWS))
            offsets, data = text_buffers(rows)
            out += [hashlib.sha256(data[a:b]).hexdigest() for a, b in itertools.pairwise(offsets)]
        return out


class LazyRows(Sequence):
    """(customer_id, row) pairs whose row dicts are built when first read."""

    def __init__(self, ids: list[str], build: Callable[[], list[dict[str, Any]]]) -> None:
        self.ids = ids
        self._build = build

    @cached_property
    def _pairs(self) -> list[tuple[str, dict[str, Any]]]:
        return list(zip(self.ids, self._build(), strict=True))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):
        return self._pairs[index]

    def __iter__(self):
        return iter(self._pairs)


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
