"""Secrets never leave the process: every message that may be logged or stored goes through
:func:`redact` with the destination's secret values."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

MASK = "***"


def secret_fragments(values: Iterable[str]) -> list[str]:
    """The secret values plus the parts of them that could be echoed on their own: the
    password of a DSN or URL, URL query values and path, in plain and %-encoded form."""
    out: set[str] = set()
    for value in values:
        if not value:
            continue
        out.add(value)
        parsed = urllib.parse.urlsplit(value)
        if parsed.scheme in ("postgres", "postgresql") or (not parsed.scheme and "=" in value):
            # A libpq DSN: the password is the secret (host and database are logged labels).
            try:
                from psycopg.conninfo import conninfo_to_dict

                password = conninfo_to_dict(value).get("password")
            except Exception:  # not a valid DSN after all: the whole value stays masked
                password = None
            if password:
                out.add(str(password))
        elif parsed.scheme and parsed.netloc:
            # A URL from the environment (webhook): credentials, query and path may be tokens.
            if parsed.password:
                out.add(parsed.password)
            for _key, v in urllib.parse.parse_qsl(parsed.query):
                if len(v) >= 4:
                    out.add(v)
            if len(parsed.path) > 1:
                out.add(parsed.path)
            if parsed.query:
                out.add(parsed.query)
    for fragment in list(out):
        out.add(urllib.parse.quote(fragment, safe=""))
        out.add(urllib.parse.quote(fragment))
    return sorted((f for f in out if len(f) >= 3), key=len, reverse=True)


def redact(text: object, secrets: Iterable[str]) -> str:
    message = "" if text is None else str(text)
    for fragment in secret_fragments(secrets):
        message = message.replace(fragment, MASK)
    return message
