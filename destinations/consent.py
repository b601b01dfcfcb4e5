"""Consent is absolute: the rule of each purpose, applied twice.

* ``marketing`` destinations receive only rows with ``marketing_allowed`` true and
  ``is_control`` false;
* ``sales`` destinations (managers' call lists) only rows with ``contact_allowed`` true and
  ``is_control`` false.

A NULL flag is a "no". The rule filters the audience table in SQL (:func:`sql_predicate`), and
every row is checked again before any kind sees it (:func:`check` on row dicts,
:func:`check_table` on the Arrow table they are read into): a row that slipped through stops
the delivery (:class:`ConsentViolation`). A customer who withdraws
consent drops out of the filtered set and is therefore *removed* from the destination by the
next diffed sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALLOW_COLUMN = {"marketing": "marketing_allowed", "sales": "contact_allowed"}
CONSENT_COLUMNS = ("is_control", "marketing_allowed", "contact_allowed")


class ConsentViolation(RuntimeError):
    """A row that may not reach this destination was about to be delivered."""


def sql_predicate(purpose: str) -> str:
    return f"{ALLOW_COLUMN[purpose]} is true and is_control is false"


def allowed(row: Mapping[str, Any], purpose: str) -> bool:
    return row.get(ALLOW_COLUMN[purpose]) is True and row.get("is_control") is False


def check(rows: Iterable[Mapping[str, Any]], purpose: str) -> None:
    for row in rows:
        if not allowed(row, purpose):
            raise ConsentViolation(
                f"customer {row.get('customer_id')!r} is not allowed for {purpose} "
                f"({ALLOW_COLUMN[purpose]}={row.get(ALLOW_COLUMN[purpose])!r}, "
                f"is_control={row.get('is_control')!r}): delivery stopped"
            )


def check_table(table: pa.Table, purpose: str) -> None:
    """:func:`check` over an Arrow table, column at a time."""
    allow, control = table.column(ALLOW_COLUMN[purpose]), table.column("is_control")
    if pa.types.is_boolean(allow.type) and pa.types.is_boolean(control.type):
        ok = pc.fill_null(pc.and_(pc.equal(allow, True), pc.equal(control, False)), False)
        if pc.all(ok, min_count=0).as_py():
            return
        first = pc.index(ok, False).as_py()
    elif table.num_rows:
        first = 0  # a flag that is not a boolean is never ``True``/``False``: no row may go
    else:
        return
    shown = ("customer_id", ALLOW_COLUMN[purpose], "is_control")
    check([{c: table.column(c)[first].as_py() for c in shown}], purpose)  # raises
