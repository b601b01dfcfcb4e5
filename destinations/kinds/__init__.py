"""The kinds of destination, by the name used in destinations.yml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from destinations.kinds.ad_platforms import GoogleAdsCustomerMatch, MetaCustomAudience
from destinations.kinds.base import Change, Kind, Outcome, Plan
from destinations.kinds.files import FilesKind
from destinations.kinds.postgresql import PostgresKind
from destinations.kinds.webhook import WebhookKind

KINDS: dict[str, type[Kind]] = {
    k.name: k
    for k in (FilesKind, PostgresKind, WebhookKind, GoogleAdsCustomerMatch, MetaCustomAudience)
}
KIND_OPTIONS: dict[str, frozenset[str]] = {
    name: k.options | k.required_env | k.optional_env for name, k in KINDS.items()
}


def required_env(kind: str) -> frozenset[str]:
    """``*_env`` options whose variable must be set (when declared) for a delivery to run."""
    return KINDS[kind].required_env | KINDS[kind].optional_env


def validate_options(kind: str, purpose: str, options: Mapping[str, Any]) -> None:
    KINDS[kind].validate(purpose, options)


def make(destination) -> Kind:
    return KINDS[destination.kind](destination)


__all__ = [
    "KINDS",
    "KIND_OPTIONS",
    "Change",
    "Kind",
    "Outcome",
    "Plan",
    "make",
    "required_env",
    "validate_options",
]
