"""Great Expectations validates the loader's batches independently, as pandas.

The loader enforces the suites in DuckDB SQL (`expectations/rules.py`); here GX checks the same
rows with its own pandas engine, so the two can be compared (`raw.batch_validation`). GX runs on
pandas only: GX over SQL through duckdb-engine fails (IndexError in resolve_metric_bundle).

GX takes seconds to import, so it is imported inside the functions, never with this module.
Rows are sent in chunks (`CHUNK_ROWS`); every row of one key of one file lands in the same chunk,
so "unique within the file" is judged on whole groups. One chunk may hold many files: GX reports
the unexpected rows by index, and the index says which file each belongs to.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from expectations.rules import BATCH_COLUMN, Suite, SuiteError, frame_columns

CHUNK_ROWS = 100_000
IN_SET = "expect_column_values_to_be_in_set"
NOT_IN_SET = "expect_column_values_to_not_be_in_set"
RESULT_FORMAT = {"result_format": "COMPLETE", "partial_unexpected_count": 0}
log = logging.getLogger(__name__)


class GXUnavailable(RuntimeError):
    """Great Expectations cannot be imported or set up."""


@dataclass
class ExpectationResult:
    batch_id: int
    reason: str
    expectation_type: str
    column: str
    severity: str
    success: bool | None  # None: GX could not evaluate it (see error)
    element_count: int  # rows of the batch GX validated
    unexpected_count: int | None
    error: str | None = None


_GX: dict[str, Any] = {}
_GX_MODULES = (
    "great_expectations",
    "great_expectations.core",
    "great_expectations.data_context.types.base",
)
_prefetch_started = threading.Event()


def prefetch() -> None:
    """Start importing GX (~2-4 s of Python) in a background thread, once per process: the
    loader calls it before its first scan, and the import runs while DuckDB, which releases the
    GIL, reads the files. `_gx` imports the same modules; Python's import lock makes it wait for
    an import under way. A failure here is left for `_gx` to raise as `GXUnavailable`."""
    if _prefetch_started.is_set() or _GX:
        return
    _prefetch_started.set()

    def import_all() -> None:
        with contextlib.suppress(Exception):  # reported by `_gx`, in the thread that validates
            import_gx()

    threading.Thread(target=import_all, name="gx-prefetch", daemon=True).start()


def import_gx() -> None:
    """Import the GX modules validation uses (analytics off: no network)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for module in _GX_MODULES:
        importlib.import_module(module)


def _gx():
    """The GX module and a pandas batch definition in an ephemeral context, made once."""
    if not _GX:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        try:
            import great_expectations as gx
            from great_expectations.core import ExpectationSuite
            from great_expectations.data_context.types.base import ProgressBarsConfig
        except Exception as exc:  # ImportError, or a broken install
            raise GXUnavailable(f"great_expectations could not be imported: {exc!r}") from exc
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        definition = (
            context.data_sources.add_pandas("retention_batches")
            .add_dataframe_asset("batch")
            .add_batch_definition_whole_dataframe("whole_batch")
        )
        _GX.update(gx=gx, suite_class=ExpectationSuite, definition=definition)
    return _GX


def gx_suite(suite: Suite):
    """The suite as a GX `ExpectationSuite`. GX drops an invalid expectation with only a log
    line; here that is an error."""
    gx = _gx()
    document = suite.document
    loaded = gx["suite_class"](
        name=document["name"],
        expectations=document["expectations"],
        meta=document.get("meta") or {},
    )
    if len(loaded.expectations) != len(document["expectations"]):
        raise SuiteError(
            f"GX loaded {len(loaded.expectations)} of the {len(document['expectations'])} "
            f"expectations of {suite.name}"
        )
    return loaded


def frames(
    con, suite: Suite, relation: str, rows: int, chunk_rows: int | None = None
) -> Iterator[Any]:
    """The batch columns of `relation` (a DuckDB table or view) as pandas, in chunks of about
    `chunk_rows`. Chunks are ranges of the first key column, so every (file, key) group is whole
    in one chunk. Decimals go as doubles: the sign and order GX compares."""
    columns = frame_columns(suite.entity)
    numeric = ("DECIMAL", "INTEGER", "BIGINT", "DOUBLE")
    select = ", ".join(
        f'cast(r."{name}" as double) as "{name}"'
        if type_.startswith(numeric) and name != BATCH_COLUMN
        else f'r."{name}"'
        for name, type_ in columns.items()
    )
    timestamps = [name for name, type_ in columns.items() if type_ == "TIMESTAMP"]
    n_chunks = max(1, math.ceil(rows / (chunk_rows or CHUNK_ROWS)))
    if n_chunks == 1:
        frame = con.execute(f"select {select} from {relation} as r").df()
        if len(frame):
            yield _fast_dtypes(frame, timestamps)
        return
    key = f'"{suite.entity.key[0]}"'
    con.execute(f"""
        create or replace temp table _gx_chunk_of as
        select k as _gx_k, (row_number() over (order by k) - 1) * {n_chunks}
            // count(*) over () as _gx_chunk
        from (select distinct {key} as k from {relation} where {key} is not null)""")
    for chunk in range(n_chunks):
        frame = con.execute(
            f"select {select} from {relation} as r left join _gx_chunk_of as c "
            f"on r.{key} = c._gx_k where coalesce(c._gx_chunk, 0) = {chunk}"
        ).df()
        if len(frame):
            yield _fast_dtypes(frame, timestamps)


def _fast_dtypes(frame, timestamps: list[str]):
    """GX compares numbers and datetime64[ns] vectorised but anything else value by value
    (about 100x slower): numbers come as doubles, and timestamps become nanosecond precision
    when every value fits in its range (years 1678-2261); a column that does not is left as
    it is, compared slowly but right."""
    import pandas as pd

    for name in timestamps:
        column = frame[name]
        if column.notna().any() and (
            column.min() < pd.Timestamp.min.ceil("s") or column.max() > pd.Timestamp.max.floor("s")
        ):
            continue
        frame[name] = column.astype("datetime64[ns]")
    return frame


def validate_frames(suite: Suite, chunks, parameters: dict[str, Any]) -> list[ExpectationResult]:
    """Validate every chunk with GX; results per batch (file) and expectation, in suite order.

    Raises GXUnavailable when GX cannot be imported; an expectation GX fails to evaluate comes
    back with success None and its error.

    An `expect_column_values_to_be_in_set` whose value set is a `$PARAMETER` list (the known
    order ids) is validated on its own, as its complement (`complement_suite`): per chunk, GX
    checks the rows against the chunk's values that are *not* in the list. GX's cost grows with
    the size of a value set times the metrics it resolves, not with the rows: it re-serialises
    the expectation, value set and all, 114 times per validation (about 0.1 ms per value per
    chunk). Even cut to the known ids the chunk holds, that list is every order of the batch:
    161 s of GX for 3.4M order lines (1.35M orders). The values a chunk holds but the list lacks are
    few (none in a clean delivery), and a row is outside the list exactly when its value is one
    of them, so GX counts the same rows, per file, as the in-set form would."""
    import numpy as np

    gx_expectations = gx_suite(suite)
    definition = _gx()["definition"]
    rules = {r.reason: r for r in suite.rules}
    set_params = {
        r.reason: r.kwargs["value_set"]["$PARAMETER"]
        for r in suite.rules
        if r.type == IN_SET and isinstance(r.kwargs.get("value_set"), dict)
    }
    main = gx_suite_subset(gx_expectations, lambda reason: reason not in set_params)
    by_set = complement_suite(suite, set_params)
    set_values = {name: set(parameters[name]) - {None} for name in set(set_params.values())}
    # GX copies every parameter into every expectation it resolves: keep the lists out.
    scalar_params = {k: v for k, v in parameters.items() if k not in set_values}
    totals: dict[tuple[int, str], ExpectationResult] = {}
    started = time.perf_counter()
    n_rows, set_seconds = 0, 0.0
    for frame in chunks:
        frame = frame.reset_index(drop=True)
        n_rows += len(frame)
        batch_of_row = frame[BATCH_COLUMN].to_numpy(dtype="int64")
        batch_ids, codes = np.unique(batch_of_row, return_inverse=True)
        rows_per_batch = np.bincount(codes, minlength=len(batch_ids))
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        outcomes = []
        if main is not None:
            outcomes += batch.validate(
                main, result_format=RESULT_FORMAT, expectation_parameters=scalar_params
            ).results
        set_started = time.perf_counter()
        if by_set is not None:
            trimmed = dict(scalar_params)
            for reason, name in set_params.items():
                present = set(frame[rules[reason].kwargs["column"]].dropna().unique().tolist())
                trimmed[_absent_parameter(rules[reason])] = sorted(present - set_values[name])
            outcomes += batch.validate(
                by_set, result_format=RESULT_FORMAT, expectation_parameters=trimmed
            ).results
        set_seconds += time.perf_counter() - set_started
        for result in outcomes:
            rule = rules[result.expectation_config.meta["reason"]]
            error = _error(result)
            unexpected = np.zeros(len(batch_ids), dtype="int64")
            if error is None and not rule.is_table_rule:
                index = np.asarray(result.result.get("unexpected_index_list") or [], dtype="int64")
                unexpected = np.bincount(codes[index], minlength=len(batch_ids))
                if int(unexpected.sum()) != result.result.get("unexpected_count"):
                    error = "unexpected_index_list does not add up to unexpected_count"
            for i, batch_id in enumerate(batch_ids.tolist()):
                key = (batch_id, rule.reason)
                total = totals.setdefault(
                    key,
                    ExpectationResult(
                        batch_id, rule.reason, rule.type, rule.column, rule.severity, True, 0, 0
                    ),
                )
                total.element_count += int(rows_per_batch[i])
                if error is not None:
                    total.success, total.unexpected_count, total.error = None, None, error
                elif total.error is None:
                    if rule.is_table_rule:
                        total.success = bool(total.success and result.success)
                    else:
                        total.unexpected_count += int(unexpected[i])
                        total.success = total.unexpected_count == 0
    log.info(
        "GX validated %s rows of %s in %.1f s (value-set parameters: %.1f s)",
        n_rows,
        suite.name,
        time.perf_counter() - started,
        set_seconds,
    )
    order = {r.reason: r.index for r in suite.rules}
    return sorted(totals.values(), key=lambda r: (r.batch_id, order[r.reason]))


def complement_suite(suite: Suite, reasons):
    """A GX suite of the suite's `expect_column_values_to_be_in_set` rules named in `reasons`,
    each as `expect_column_values_to_not_be_in_set` (same column, row condition and meta) of
    the parameter `_absent_parameter(rule)`: the values of the batch outside the value set.
    Over those values the two agree row for row (GX skips nulls in both). None when empty."""
    document = suite.document
    items = []
    for rule in suite.rules:
        if rule.reason not in reasons:
            continue
        if rule.type != IN_SET:
            raise SuiteError(f"{rule.reason}: only {IN_SET} has a complement here")
        item = {k: v for k, v in document["expectations"][rule.index].items() if k != "id"}
        item["type"] = NOT_IN_SET
        item["kwargs"] = {**item["kwargs"], "value_set": {"$PARAMETER": _absent_parameter(rule)}}
        items.append(item)
    if not items:
        return None
    loaded = _gx()["suite_class"](
        name=document["name"], expectations=items, meta=document.get("meta") or {}
    )
    if len(loaded.expectations) != len(items):
        raise SuiteError(f"GX loaded {len(loaded.expectations)} of {len(items)} complements")
    return loaded


def _absent_parameter(rule) -> str:
    return f"absent_from_{rule.kwargs['value_set']['$PARAMETER']}_{rule.index}"


def gx_suite_subset(gx_expectations, keep):
    """A GX suite of the expectations whose reason `keep` accepts (None when there are none)."""
    chosen = [e for e in gx_expectations.expectations if keep(e.meta["reason"])]
    if not chosen:
        return None
    subset = _gx()["suite_class"](name=gx_expectations.name, meta=gx_expectations.meta)
    for expectation in chosen:
        subset.add_expectation(expectation.copy())
    return subset


def _error(result) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():  # per-metric errors
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None
