"""The expectation suites as DuckDB SQL: one source of rules, two engines.

`expectations/suites/<source>_<entity>.json` (GX 1.x suite JSON) is the source of the row and
batch rules. The loader enforces them row by row with the SQL built here; Great Expectations
validates the same batch independently as pandas (`expectations/validate.py`). This module reads
the JSON itself and never imports GX.

The batch both engines see (one file as typed by the loader):

- every contract column under its name, typed (null when blank or unparseable);
- `<column>__text`: the delivered text (trimmed, blank = null) of every non-text column, so that
  "missing" and "does not parse" can be told apart;
- `_batch_id`: the file's batch, so "unique" means unique within one file.

Every expectation's `meta` carries `severity` (quarantine | warn | reject_batch) and `reason`
(the row-rule reason code, unique within the suite); `reject_batch_above` (a share of the file's
rows) with `reject_batch_min_rows` turns many rows broken by one quarantine rule into a batch
rejection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from ingestion.contract import BY_TABLE, Entity

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SEVERITIES = ("quarantine", "warn", "reject_batch")
TEXT_SUFFIX = "__text"
BATCH_COLUMN = "_batch_id"

# Expectation type -> the kwargs the SQL engine understands (anything else is refused, so a
# rule is never silently weakened in one engine).
SUPPORTED: dict[str, set[str]] = {
    "expect_table_columns_to_match_set": {"column_set", "exact_match"},
    "expect_column_values_to_not_be_null": {"column", "row_condition"},
    "expect_column_values_to_be_in_set": {"column", "value_set", "row_condition"},
    "expect_column_values_to_be_between": {
        "column",
        "min_value",
        "max_value",
        "strict_min",
        "strict_max",
        "row_condition",
    },
    "expect_column_values_to_match_regex": {"column", "regex", "row_condition"},
    "expect_column_pair_values_a_to_be_greater_than_b": {
        "column_A",
        "column_B",
        "or_equal",
        "ignore_row_if",
        "row_condition",
    },
    "expect_column_values_to_be_unique": {"column"},
    "expect_compound_columns_to_be_unique": {"column_list", "ignore_row_if"},
}
UNIQUE_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
TABLE_TYPES = ("expect_table_columns_to_match_set",)
COMPARISON_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class SuiteError(ValueError):
    """A suite the SQL engine cannot enforce exactly as written."""


@dataclass(frozen=True)
class SqlParameter:
    """A `$PARAMETER` as SQL: a scalar expression, or a one-column relation (for value sets)."""

    sql: str
    relation: bool = False


@dataclass(frozen=True)
class Rule:
    index: int
    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    column_types: dict[str, str] = field(repr=False, compare=False, default_factory=dict)

    @property
    def severity(self) -> str:
        return self.meta["severity"]

    @property
    def reason(self) -> str:
        return self.meta["reason"]

    @property
    def reject_batch_above(self) -> float | None:
        value = self.meta.get("reject_batch_above")
        return None if value is None else float(value)

    @property
    def reject_batch_min_rows(self) -> int:
        return int(self.meta.get("reject_batch_min_rows", 1))

    @property
    def is_table_rule(self) -> bool:
        return self.type in TABLE_TYPES

    @property
    def is_unique(self) -> bool:
        return self.type in UNIQUE_TYPES

    @property
    def columns(self) -> list[str]:
        """Frame columns the rule reads, in the order the suite names them."""
        k = self.kwargs
        if "column" in k:
            names = [k["column"]]
        elif "column_list" in k:
            names = list(k["column_list"])
        elif "column_A" in k:
            names = [k["column_A"], k["column_B"]]
        else:
            names = []
        return names + _condition_columns(k.get("row_condition"))

    @property
    def column(self) -> str:
        """Contract column(s) the rule is about, for reports: `closed_at,opened_at`."""
        k = self.kwargs
        if "column" in k:
            names = [k["column"]]
        elif "column_list" in k:
            names = [c for c in k["column_list"] if c != BATCH_COLUMN]
        elif "column_A" in k:
            names = [k["column_A"], k["column_B"]]
        else:
            return "*"
        return ",".join(n.removesuffix(TEXT_SUFFIX) for n in names)

    @property
    def parameters(self) -> set[str]:
        return set(_parameters(self.kwargs))

    # ------------------------------------------------------------------------------ SQL

    def unexpected_sql(self, params: dict[str, SqlParameter]) -> str:
        """SQL, true for a row GX counts as unexpected (nulls are ignored, as GX does)."""
        k = self.kwargs
        t = self.type
        if t == "expect_column_values_to_not_be_null":
            sql = f"{_ident(k['column'])} is null"
        elif t == "expect_column_values_to_be_in_set":
            col = _ident(k["column"])
            sql = f"{col} is not null and {col} not in ({self._set_sql(k['value_set'], params)})"
        elif t == "expect_column_values_to_be_between":
            sql = self._between_sql(params)
        elif t == "expect_column_values_to_match_regex":
            col = _ident(k["column"])
            sql = f"{col} is not null and not regexp_matches({col}, {_str(k['regex'])})"
        elif t == "expect_column_pair_values_a_to_be_greater_than_b":
            a, b = _ident(k["column_A"]), _ident(k["column_B"])
            op = ">=" if k.get("or_equal") else ">"
            ignore = k.get("ignore_row_if", "both_values_are_missing")
            if ignore == "either_value_is_missing":
                sql = f"{a} is not null and {b} is not null and not ({a} {op} {b})"
            elif ignore == "both_values_are_missing":
                sql = f"not ({a} is null and {b} is null) and not coalesce({a} {op} {b}, false)"
            else:
                raise SuiteError(f"{self.reason}: ignore_row_if={ignore!r} is not supported")
        else:  # uniqueness is judged over the batch: duplicates_sql
            raise SuiteError(f"{self.reason}: {t} has no row predicate")
        condition = k.get("row_condition")
        if condition is not None:
            sql = f"({condition_sql(condition)}) and ({sql})"
        return f"({sql})"

    def duplicates_sql(self, relation: str) -> str:
        """For a uniqueness rule: the rows of `relation` GX counts as unexpected — every row of
        a repeated key among the rows it does not skip (`_parse_reason` null, the row condition
        met) — as `(_file, _row_number, _quarantine)`. `_quarantine` is true for all but one
        row of each key: the latest content survives (that of the highest row number; of
        identical rows the first). The repeated keys are found by grouping, so the windows
        that pick the survivor see only their rows, not the whole batch."""
        cols = self.kwargs.get("column_list") or [self.kwargs["column"]]
        if self.type == "expect_column_values_to_be_unique":
            ignore = "any_value_is_missing"
        else:
            ignore = self.kwargs.get("ignore_row_if", "all_values_are_missing")
        present = {
            "any_value_is_missing": " and ".join(f"{_ident(c)} is not null" for c in cols),
            "all_values_are_missing": " or ".join(f"{_ident(c)} is not null" for c in cols),
            "never": "true",
        }.get(ignore)
        if present is None:
            raise SuiteError(f"{self.reason}: ignore_row_if={ignore!r} is not supported")
        keep = f"_parse_reason is null and ({present})"
        condition = self.kwargs.get("row_condition")
        if condition is not None:
            keep += f" and ({condition_sql(condition)})"
        key = ", ".join(_ident(c) for c in cols)
        same_key = " and ".join(f"t.{_ident(c)} is not distinct from d.{_ident(c)}" for c in cols)
        return f"""
            select _file, _row_number, not (
                _record = arg_max(_record, _row_number) over (partition by {key})
                and _row_number = min(_row_number) over (partition by {key}, _record)
            ) as _quarantine
            from (
                select t.* from {relation} as t
                semi join (
                    select {key} from {relation} where {keep} group by all having count(*) > 1
                ) as d on {same_key}
                where {keep})"""

    def _between_sql(self, params: dict[str, SqlParameter]) -> str:
        k = self.kwargs
        col = _ident(k["column"])
        column_type = self.column_types.get(k["column"], "VARCHAR")
        parts = []
        if k.get("min_value") is not None:
            op = "<=" if k.get("strict_min") else "<"
            parts.append(f"{col} {op} {_value_sql(k['min_value'], column_type, params)}")
        if k.get("max_value") is not None:
            op = ">=" if k.get("strict_max") else ">"
            parts.append(f"{col} {op} {_value_sql(k['max_value'], column_type, params)}")
        if not parts:
            raise SuiteError(f"{self.reason}: between needs min_value or max_value")
        return f"{col} is not null and ({' or '.join(parts)})"

    def _set_sql(self, value_set, params: dict[str, SqlParameter]) -> str:
        if isinstance(value_set, dict):
            param = _param(value_set, params)
            if not param.relation:
                raise SuiteError(f"{self.reason}: value_set parameter must be a relation")
            return f"select * from ({param.sql}) as p(v) where v is not null"
        column_type = self.column_types.get(self.kwargs["column"], "VARCHAR")
        if not value_set:
            raise SuiteError(f"{self.reason}: empty value_set")
        return ", ".join(_literal(v, column_type) for v in value_set)

    # --------------------------------------------------------------------------- batch

    def missing_columns(self, present: set[str]) -> list[str]:
        """For `expect_table_columns_to_match_set`: expected columns absent from a file."""
        return [c for c in self.kwargs["column_set"] if c not in present]


@dataclass(frozen=True)
class Suite:
    name: str
    entity: Entity
    rules: tuple[Rule, ...]
    document: dict = field(repr=False, compare=False)

    @property
    def row_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if not r.is_table_rule)

    @property
    def table_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.is_table_rule)

    @property
    def parameters(self) -> set[str]:
        return set().union(*(r.parameters for r in self.rules))

    def rule(self, reason: str) -> Rule:
        return next(r for r in self.rules if r.reason == reason)

    def missing_columns(self, present: set[str]) -> list[str]:
        missing: list[str] = []
        for rule in self.table_rules:
            missing += [c for c in rule.missing_columns(present) if c not in missing]
        return missing


def suite_path(entity: Entity) -> Path:
    return SUITES_DIR / f"{entity.table}.json"


def frame_columns(entity: Entity) -> dict[str, str]:
    """The columns of the batch both engines validate, with their DuckDB types."""
    columns = {c.name: c.type for c in entity.columns}
    for c in entity.columns:
        if c.type != "VARCHAR":
            columns[c.name + TEXT_SUFFIX] = "VARCHAR"
    columns[BATCH_COLUMN] = "BIGINT"
    return columns


def load_suite(entity: Entity) -> Suite:
    """The entity's suite, read once per process (suites change with the code, not at run time)."""
    return _load_suite(entity.table)


@cache
def _load_suite(table: str) -> Suite:
    entity = BY_TABLE[table]
    return parse_suite(entity, json.loads(suite_path(entity).read_text(encoding="utf-8")))


def parse_suite(entity: Entity, document: dict) -> Suite:
    """Check a suite document against what the SQL engine can enforce, and wrap it."""
    if document.get("name") != entity.table:
        raise SuiteError(f"suite name {document.get('name')!r} is not {entity.table!r}")
    types = frame_columns(entity)
    rules, reasons = [], set()
    for index, item in enumerate(document.get("expectations", [])):
        where = f"{entity.table} expectation #{index}"
        unknown_keys = set(item) - {"type", "kwargs", "meta", "id", "notes", "description"}
        if unknown_keys:
            raise SuiteError(f"{where}: unknown keys {sorted(unknown_keys)}")
        kind, kwargs, meta = item.get("type"), item.get("kwargs", {}), item.get("meta", {})
        if kind not in SUPPORTED:
            raise SuiteError(f"{where}: {kind!r} is not supported by the SQL engine")
        unknown = set(kwargs) - SUPPORTED[kind]
        if unknown:
            raise SuiteError(f"{where}: unsupported kwargs {sorted(unknown)} for {kind}")
        if meta.get("severity") not in SEVERITIES:
            raise SuiteError(f"{where}: meta.severity must be one of {SEVERITIES}")
        reason = meta.get("reason")
        if not reason or reason in reasons:
            raise SuiteError(f"{where}: meta.reason missing or not unique: {reason!r}")
        reasons.add(reason)
        rule = Rule(index, kind, kwargs, meta, types)
        for name in rule.columns:
            if name not in types:
                raise SuiteError(f"{where}: column {name!r} is not in the batch")
        if rule.is_table_rule and rule.severity != "reject_batch":
            raise SuiteError(f"{where}: a table rule must have severity reject_batch")
        if rule.is_table_rule and kwargs.get("exact_match", True):
            # The batch carries more columns than the file (typed + text); only "contains".
            raise SuiteError(f"{where}: only exact_match=false is supported")
        rules.append(rule)
    return Suite(entity.table, entity, tuple(rules), document)


# --------------------------------------------------------------------------- conditions


def condition_sql(condition: dict) -> str:
    """GX 1.x row condition (the serialised Condition objects) → SQL."""
    if not isinstance(condition, dict):
        raise SuiteError(f"row_condition must be a Condition object, got {condition!r}")
    kind = condition.get("type")
    if kind == "nullity":
        col = _ident(condition["column"]["name"])
        return f"{col} is null" if condition["is_null"] else f"{col} is not null"
    if kind == "comparison":
        col = _ident(condition["column"]["name"])
        op, value = condition["operator"], condition["parameter"]
        if op in ("IN", "NOT_IN"):
            listing = ", ".join(_literal(v, "VARCHAR") for v in value)
            return f"{col} {'in' if op == 'IN' else 'not in'} ({listing})"
        return f"{col} {COMPARISON_OPERATORS[op]} {_literal(value, 'VARCHAR')}"
    if kind in ("and", "or"):
        joined = f" {kind} ".join(f"({condition_sql(c)})" for c in condition["conditions"])
        return f"({joined})"
    raise SuiteError(f"row_condition type {kind!r} is not supported")


def _condition_columns(condition) -> list[str]:
    if not isinstance(condition, dict):
        return []
    if condition.get("type") in ("and", "or"):
        return [c for sub in condition["conditions"] for c in _condition_columns(sub)]
    return [condition["column"]["name"]] if "column" in condition else []


# ------------------------------------------------------------------------------ values


def _parameters(value) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [value["$PARAMETER"]]
        return [p for v in value.values() for p in _parameters(v)]
    if isinstance(value, list):
        return [p for v in value for p in _parameters(v)]
    return []


def _param(value: dict, params: dict[str, SqlParameter]) -> SqlParameter:
    name = value["$PARAMETER"]
    if name not in params:
        raise SuiteError(f"no value for $PARAMETER {name!r}")
    return params[name]


def _value_sql(value, column_type: str, params: dict[str, SqlParameter]) -> str:
    if isinstance(value, dict):
        return _param(value, params).sql
    return _literal(value, column_type)


def _literal(value, column_type: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        value = value.isoformat()
    if column_type == "TIMESTAMP":
        return f"timestamp {_str(str(value).replace('T', ' '))}"
    return _str(value)


def sql_timestamp(value: datetime) -> SqlParameter:
    return SqlParameter(f"timestamp {_str(value.isoformat(sep=' '))}")


def _str(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -------------------------------------------------------------------------- parameters

# Timestamps are naive, in the company's time zone, while the clock that stamps the load may
# not be: anything up to a day past the load time is believable (time zones, clock skew).
FUTURE_TOLERANCE = timedelta(days=1)
# `$PARAMETER`s the suites may use, as one-column relations or scalars.
RELATION_PARAMETERS = {
    # Orders load before their lines (`load_landing` order, Dagster dependency), so an order of
    # the same delivery is "already loaded" by the time its lines are checked.
    "known_order_ids": "select order_id from raw.orders_orders where order_id is not null",
}


def latest_plausible(loaded_at: datetime) -> datetime:
    return loaded_at + FUTURE_TOLERANCE


def sql_parameters(
    suite: Suite, loaded_at: datetime, batch: str | None = None
) -> dict[str, SqlParameter]:
    """The suite's `$PARAMETER`s as SQL for the loader (`batch`: see `_relation_sql`)."""
    params: dict[str, SqlParameter] = {}
    for name in suite.parameters:
        if name == "latest_plausible":
            params[name] = sql_timestamp(latest_plausible(loaded_at))
        elif name in RELATION_PARAMETERS:
            params[name] = SqlParameter(_relation_sql(suite, name, batch), relation=True)
        else:
            raise SuiteError(f"{suite.name}: unknown $PARAMETER {name!r}")
    return params


def parameter_values(
    con,
    suite: Suite,
    loaded_at: datetime,
    batch: str | None = None,
    relations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The same parameters as Python values, for Great Expectations (`batch`: see
    `_relation_sql`). `relations` may name, per relation parameter, a table already holding
    its values (a superset of those `batch` needs), read instead of the parameter's query."""
    values: dict[str, Any] = {}
    for name in suite.parameters:
        if name == "latest_plausible":
            values[name] = latest_plausible(loaded_at)
        elif name in RELATION_PARAMETERS:
            source = (relations or {}).get(name)
            sql = _relation_sql(suite, name, batch, source and f"select * from {source}")
            values[name] = [r[0] for r in con.execute(sql).fetchall()]
        else:
            raise SuiteError(f"{suite.name}: unknown $PARAMETER {name!r}")
    return values


def _relation_sql(suite: Suite, name: str, batch: str | None, source: str | None = None) -> str:
    """A relation parameter's distinct values (from `source`, else its query). With `batch`
    (the relation checked against it), a relation used only as a value set holds just the
    values the batch has in the columns checked against it (a semi-join in DuckDB): the others
    cannot change an outcome, and the relation may be every order ever loaded."""
    sql = source or RELATION_PARAMETERS[name]
    users = [r for r in suite.rules if name in r.parameters]
    if batch is not None and all(r.kwargs.get("value_set") == {"$PARAMETER": name} for r in users):
        held = " union ".join(f"select {_ident(r.kwargs['column'])} from {batch}" for r in users)
        return f"select distinct v from ({sql}) as p(v) where v in ({held})"
    return f"select distinct v from ({sql}) as p(v)"
