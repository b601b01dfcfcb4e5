"""The declared destinations: ``destinations.yml`` parsed and checked, nothing connected.

A destination is ``name``, ``kind``, ``purpose`` (``marketing`` | ``sales``), ``audiences`` and
the kind's options. Secrets never appear in the file: an option ending in ``_env`` names the
environment variable that holds the value (``dsn_env: RETENTION_CRM_EXPORT_DSN``), read when a
delivery runs. A destination whose required variable is unset is *skipped*, not failed.

The file is ``RETENTION_DESTINATIONS_FILE`` when set, else ``$RETENTION_HOME/destinations.yml``
when that exists, else the project's own ``destinations.yml``. Paths are read at call time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = Path(__file__).resolve().parent.parent / "destinations.yml"
PURPOSES = ("marketing", "sales")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Options every kind accepts; the kinds add their own (destinations.kinds.KIND_OPTIONS).
COMMON_OPTIONS = {
    "name",
    "kind",
    "purpose",
    "audiences",
    "description",
    "attempts",
    "retry_delay_seconds",
    "exclude_columns",
}
DEFAULTS = {"attempts": 3, "retry_delay_seconds": 5.0}


class ConfigError(ValueError):
    """destinations.yml is malformed; the message names the destination and the option."""


@dataclass(frozen=True)
class Destination:
    name: str
    kind: str
    purpose: str
    audiences: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    attempts: int = 3
    retry_delay_seconds: float = 5.0
    exclude_columns: tuple[str, ...] = ()

    @property
    def env_options(self) -> dict[str, str]:
        """``{option: environment variable name}`` for every ``*_env`` option."""
        return {k: v for k, v in self.options.items() if k.endswith("_env")}

    def missing_env(self) -> list[str]:
        """Names of the required environment variables that are unset or empty."""
        from destinations.kinds import required_env

        return [
            var
            for option, var in self.env_options.items()
            if option in required_env(self.kind) and not os.environ.get(var)
        ]

    def secret(self, option: str) -> str | None:
        """The value of the environment variable named by ``option`` (e.g. ``dsn_env``)."""
        var = self.options.get(option)
        return os.environ.get(var) or None if var else None

    def secrets(self) -> list[str]:
        """Every secret value this destination reads from the environment (for redaction)."""
        return [v for option in self.env_options if (v := self.secret(option))]


@dataclass(frozen=True)
class Config:
    destinations: tuple[Destination, ...]
    source: str = ""

    def get(self, name: str) -> Destination:
        for d in self.destinations:
            if d.name == name:
                return d
        known = ", ".join(d.name for d in self.destinations) or "none"
        raise ConfigError(f"no destination named {name!r} (declared: {known})")

    @property
    def audiences(self) -> tuple[str, ...]:
        """Every audience some destination takes, in first-declared order."""
        seen: dict[str, None] = {}
        for d in self.destinations:
            seen.update(dict.fromkeys(d.audiences))
        return tuple(seen)

    def pairs(
        self, audiences: list[str] | None = None, destinations: list[str] | None = None
    ) -> list[tuple[Destination, str]]:
        """(destination, audience) pairs, optionally narrowed to some audiences/destinations."""
        chosen = [self.get(n) for n in destinations] if destinations else self.destinations
        return [(d, a) for d in chosen for a in d.audiences if not audiences or a in audiences]


def config_path() -> Path:
    if os.environ.get("RETENTION_DESTINATIONS_FILE"):
        return Path(os.environ["RETENTION_DESTINATIONS_FILE"])
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
    return home / "destinations.yml" if (home / "destinations.yml").is_file() else PROJECT_FILE


def export_dir() -> Path:
    """Root folder of file deliveries: ``RETENTION_EXPORT_DIR``, else
    ``$RETENTION_DATA_DIR/exports`` (``$RETENTION_HOME/data/exports``), read at call time."""
    if os.environ.get("RETENTION_EXPORT_DIR"):
        return Path(os.environ["RETENTION_EXPORT_DIR"])
    home = Path(os.environ.get("RETENTION_HOME", Path.cwd())).resolve()
    return Path(os.environ.get("RETENTION_DATA_DIR", home / "data")) / "exports"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Parse and validate destinations.yml (``path`` or :func:`config_path`). Connects to
    nothing and reads no secret."""
    path = Path(path) if path is not None else config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse_config(yaml.safe_load(text) or {}, source=str(path))


def parse_config(data: Any, source: str = "<memory>") -> Config:
    from destinations.kinds import KIND_OPTIONS, validate_options

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'destinations' list")
    unknown = set(data) - {"version", "defaults", "destinations"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}")
    defaults = {**DEFAULTS, **(data.get("defaults") or {})}
    bad_defaults = set(defaults) - set(DEFAULTS) - {"exclude_columns"}
    if bad_defaults:
        raise ConfigError(f"{source}: unknown defaults {sorted(bad_defaults)}")
    entries = data.get("destinations") or []
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'destinations' must be a list")
    out: list[Destination] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: destination #{i + 1} is not a mapping")
        name = entry.get("name")
        where = f"{source}: destination {name or '#' + str(i + 1)!s}"
        if not isinstance(name, str) or not NAME.match(name):
            raise ConfigError(f"{where}: name must match {NAME.pattern}")
        if any(d.name == name for d in out):
            raise ConfigError(f"{where}: declared twice")
        kind = entry.get("kind")
        if kind not in KIND_OPTIONS:
            raise ConfigError(f"{where}: kind {kind!r} is not one of {sorted(KIND_OPTIONS)}")
        purpose = entry.get("purpose")
        if purpose not in PURPOSES:
            raise ConfigError(f"{where}: purpose must be one of {PURPOSES}, not {purpose!r}")
        audiences = entry.get("audiences")
        if (
            not isinstance(audiences, list)
            or not audiences
            or not all(isinstance(a, str) and NAME.match(a) for a in audiences)
            or len(set(audiences)) != len(audiences)
        ):
            raise ConfigError(f"{where}: audiences must be a non-empty list of distinct names")
        unknown = set(entry) - COMMON_OPTIONS - KIND_OPTIONS[kind]
        if unknown:
            hint = ""
            if any(k in ("dsn", "token", "url_token", "password", "api_key") for k in unknown):
                hint = " (secrets go in environment variables: use the *_env option)"
            raise ConfigError(f"{where}: unknown options {sorted(unknown)}{hint}")
        options = {k: v for k, v in entry.items() if k not in COMMON_OPTIONS}
        for option, var in options.items():
            if option.endswith("_env") and not (isinstance(var, str) and ENV_NAME.match(var)):
                raise ConfigError(f"{where}: {option} must name an environment variable")
        try:
            validate_options(kind, purpose, options)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        merged = {**defaults, **{k: entry[k] for k in DEFAULTS if k in entry}}
        attempts = merged["attempts"]
        delay = merged["retry_delay_seconds"]
        if not isinstance(attempts, int) or not 1 <= attempts <= 10:
            raise ConfigError(f"{where}: attempts must be an integer from 1 to 10")
        if not isinstance(delay, int | float) or not 0 <= delay <= 600:
            raise ConfigError(f"{where}: retry_delay_seconds must be 0 to 600")
        exclude = entry.get("exclude_columns", defaults.get("exclude_columns")) or []
        if not isinstance(exclude, list) or not all(isinstance(c, str) for c in exclude):
            raise ConfigError(f"{where}: exclude_columns must be a list of column names")
        out.append(
            Destination(
                name=name,
                kind=kind,
                purpose=purpose,
                audiences=tuple(audiences),
                options=options,
                description=str(entry.get("description") or ""),
                attempts=attempts,
                retry_delay_seconds=float(delay),
                exclude_columns=tuple(exclude),
            )
        )
    return Config(destinations=tuple(out), source=source)
