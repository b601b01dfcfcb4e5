"""What every kind of destination implements, and the plan a delivery hands it."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from destinations import consent
from destinations.config import Destination
from destinations.rows import RowTable


@dataclass(frozen=True)
class Change:
    """One customer's change since the destination's last successful delivery (the row as
    delivered now, unless removed, is the customer's in ``Plan.current``)."""

    change: str  # added | changed | removed
    customer_id: str
    previous: dict[str, Any] | None = None  # the removal payload kept from the last delivery


@dataclass
class Plan:
    """Everything one delivery of one audience to one destination needs."""

    destination: Destination
    audience: str
    run_id: str
    as_of_date: dt.date | None
    mode: str  # diff | full
    columns: list[tuple[str, str]]  # delivered columns and their DuckDB types
    current: Sequence[tuple[str, dict[str, Any]]]  # every deliverable row, by customer_id
    added: list[Change]
    changed: list[Change]
    removed: list[Change]
    con: Any = None  # the warehouse connection (webhook batch ledger)
    log: logging.Logger | Any = None
    secrets: list[str] = field(default_factory=list)
    # ``current`` column by column when the kind delivers the audience's columns as they are
    # (Kind.delivers_columns); its row dicts are then built only if the kind reads them.
    table: RowTable | None = None

    @property
    def changes(self) -> list[Change]:
        """Added, changed and removed, by customer_id."""
        return sorted([*self.added, *self.changed, *self.removed], key=lambda c: c.customer_id)

    @property
    def upserts(self) -> list[tuple[str, dict[str, Any]]]:
        """Rows to write: the changes in diff mode, every current row in full mode."""
        if self.mode == "full":
            return self.current
        ids = {c.customer_id for c in self.added} | {c.customer_id for c in self.changed}
        return [(cid, row) for cid, row in self.current if cid in ids]


@dataclass
class Outcome:
    location: str
    files: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class Kind:
    """A kind of destination. Subclasses set ``name``, ``options`` (their YAML options) and
    ``required_env`` (``*_env`` options that must be declared, and set for a delivery to run;
    ``optional_env`` ones need only be set when declared)."""

    name: ClassVar[str]
    options: ClassVar[frozenset[str]] = frozenset()
    required_env: ClassVar[frozenset[str]] = frozenset()
    optional_env: ClassVar[frozenset[str]] = frozenset()  # when declared, must be set
    purposes: ClassVar[tuple[str, ...]] = ("marketing", "sales")
    dagster_kinds: ClassVar[frozenset[str]] = frozenset({"python"})

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    @classmethod
    def validate(cls, purpose: str, options: Mapping[str, Any]) -> None:
        """Raise ValueError when the options make no sense for this kind."""
        if purpose not in cls.purposes:
            raise ValueError(f"kind {cls.name} only serves purpose {' or '.join(cls.purposes)}")
        for option in cls.required_env:
            if option not in options:
                raise ValueError(f"kind {cls.name} needs {option}")

    def columns(self, source: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The delivered columns: the audience's, without the consent flags (every delivered
        row is consented and not in the control group) and the excluded columns."""
        dropped = {*consent.CONSENT_COLUMNS, *self.destination.exclude_columns}
        return [(c, t) for c, t in source if c not in dropped]

    @property
    def delivers_columns(self) -> bool:
        """Whether a delivered row is just the audience row's ``columns`` and nothing is kept to
        remove it (``project`` and ``removal_payload`` as here): the sync then hashes the rows
        column by column and hands the kind ``Plan.table``."""
        cls = type(self)
        return cls.project is Kind.project and cls.removal_payload is Kind.removal_payload

    def project(self, row: Mapping[str, Any], columns: list[tuple[str, str]]) -> dict | None:
        """The row as delivered; ``None`` when it cannot be delivered (no identifier)."""
        return {c: row.get(c) for c, _ in columns}

    def removal_payload(self, delivered: Mapping[str, Any]) -> dict[str, Any] | None:
        """What must be kept to remove the row later; the key alone unless overridden."""
        return None

    def location(self) -> str:
        """Where deliveries go, without any secret."""
        raise NotImplementedError

    def deliver(self, plan: Plan) -> Outcome:
        raise NotImplementedError
