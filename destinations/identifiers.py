"""Contact identifiers as ad platforms match them: normalised, then SHA-256 hex.

* **Email**: surrounding whitespace removed, lower-cased; a value without exactly one ``@`` or
  with whitespace inside is not an email (``None``). Nothing else is rewritten (no removal of
  dots or ``+tags`` in Gmail addresses: Customer Match file uploads and Meta both ask for trim +
  lower-case only).
* **Phone**: :func:`normalize_phone` → E.164 (``+`` country code, subscriber number, 8–15
  digits). Google wants the hash of the E.164 string *with* the ``+``; Meta the hash of the
  digits *without* it (see :mod:`destinations.kinds.ad_platforms`).

What :func:`normalize_phone` understands, per number as typed in a CRM:

* formatting is ignored: spaces, ``-``, ``.``, ``/``, brackets, a ``(0)`` after the country code
  (``+44 (0)20 7946 0958``), a trailing extension (``ext 12``, ``x12``, ``доб. 12``, ``#12``);
* ``+`` or ``00`` starts an international number, kept as is (after the length check); so does
  ``810`` in RU/KZ/BY, the old Soviet international prefix; ``+8 9…`` with 11 digits on a RU/KZ
  customer is read as ``+7 9…`` (the trunk 8 typed as a country code; +89 is unassigned);
* a national number is completed with the calling code of the row's ``country_code``
  (:data:`CALLING_CODES`), dropping the national trunk prefix: ``8`` in RU/KZ (``8 915 …`` →
  ``+7 915 …``), ``8 0`` (or ``0``) in BY, ``0`` (or the old ``8 0``) in UA, ``0`` in GB, IE,
  DE, FR, NL, AT, CH, BE; ``1`` in US/CA. IT keeps its leading ``0`` (it is part of the
  number); ES and PL have no trunk prefix;
* a national number already starting with the calling code (``7 915 123 45 67`` in RU,
  ``44 20 …`` in GB) is accepted when the length after the code is a valid national length.

Limits (by design; no numbering-plan database): the national length is checked per country
(:data:`CALLING_CODES`) but not the area or mobile prefix, so a well-formed non-existent number
passes; countries outside the table are only accepted when already international; a RU/KZ
number is not told apart (both +7); a number typed with a wrong country (a German number on a
GB customer without ``+49``) gets the customer's country code. Unusable values give ``None``
and the row is matched on its other identifiers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

SHA256_HEX = re.compile(r"^[a-f0-9]{64}$")


@dataclass(frozen=True)
class CallingCode:
    code: str  # country calling code, digits only
    trunk: tuple[str, ...]  # national trunk prefixes to drop, longest first
    national_lengths: tuple[int, int]  # digits after the calling code: (min, max)


# ITU-T E.164 assigned country codes for the countries the data uses (and neighbours).
CALLING_CODES: dict[str, CallingCode] = {
    "RU": CallingCode("7", ("8",), (10, 10)),
    "KZ": CallingCode("7", ("8",), (10, 10)),
    "BY": CallingCode("375", ("80", "0"), (9, 9)),
    "UA": CallingCode("380", ("80", "0"), (9, 9)),
    "GB": CallingCode("44", ("0",), (9, 10)),
    "IE": CallingCode("353", ("0",), (7, 9)),
    "DE": CallingCode("49", ("0",), (6, 13)),
    "AT": CallingCode("43", ("0",), (4, 13)),
    "CH": CallingCode("41", ("0",), (9, 9)),
    "FR": CallingCode("33", ("0",), (9, 9)),
    "BE": CallingCode("32", ("0",), (8, 9)),
    "NL": CallingCode("31", ("0",), (9, 9)),
    "ES": CallingCode("34", (), (9, 9)),
    "IT": CallingCode("39", (), (6, 11)),
    "PL": CallingCode("48", (), (9, 9)),
    "US": CallingCode("1", ("1",), (10, 10)),
    "CA": CallingCode("1", ("1",), (10, 10)),
}

_EXTENSION = re.compile(r"(?:\s*(?:ext\.?|x|доб\.?|#)\s*\d{1,6})$", re.IGNORECASE)
_ALLOWED = re.compile(r"^[0-9\s\-./()+]+$")


def sha256_hex(value: str) -> str:
    """SHA-256 of the UTF-8 bytes of ``value``, lower-case hex (64 characters)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_email(value: object) -> str | None:
    """Trimmed, lower-cased email, or ``None`` when ``value`` is not an email address."""
    if value is None:
        return None
    email = str(value).strip().lower()
    if email.count("@") != 1 or any(c.isspace() for c in email):
        return None
    local, _, domain = email.partition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return email


def normalize_phone(value: object, country_code: object = None) -> str | None:
    """``value`` as an E.164 string (``+79151234567``), or ``None`` when it cannot be made one.

    ``country_code`` (ISO 3166-1 alpha-2) supplies the calling code of a national number; see
    the module docstring for the rules and their limits.
    """
    if value is None:
        return None
    text = _EXTENSION.sub("", str(value).strip()).strip()
    if not text or not _ALLOWED.match(text) or "+" in text[1:]:
        return None
    country = str(country_code).strip().upper() if country_code else ""
    international = text.startswith("+")
    if international:
        # "+44 (0)20 …": the (0) is the national trunk prefix, written for domestic callers.
        text = re.sub(r"^\+(\d{1,3})[\s\-.]*\(0\)", r"+\1", text)
    digits = re.sub(r"\D", "", text)
    if not international:
        if digits.startswith("00"):
            international, digits = True, digits[2:]
        elif country in ("RU", "KZ", "BY") and digits.startswith("810") and len(digits) > 11:
            international, digits = True, digits[3:]
    if international:
        if country in ("RU", "KZ") and len(digits) == 11 and digits.startswith("89"):
            digits = "7" + digits[1:]  # "+8 915 …": the trunk 8 mistaken for a country code
        return _international(digits)
    spec = CALLING_CODES.get(country)
    return _national(digits, spec) if spec is not None else None


def _fits(number: str, spec: CallingCode) -> bool:
    low, high = spec.national_lengths
    return low <= len(number) <= high


def _international(digits: str) -> str | None:
    """A number given with its country code: the national length is checked when the code is
    one of :data:`CALLING_CODES` (country codes are prefix-free, so at most one matches)."""
    for spec in CALLING_CODES.values():
        if digits.startswith(spec.code):
            return _checked(digits) if _fits(digits[len(spec.code) :], spec) else None
    return _checked(digits)


def _national(digits: str, spec: CallingCode) -> str | None:
    for trunk in spec.trunk:  # "8 915 …" (RU), "020 …" (GB), "1 415 …" (US)
        if digits.startswith(trunk) and _fits(digits[len(trunk) :], spec):
            return _checked(spec.code + digits[len(trunk) :])
    if not spec.trunk and _fits(digits, spec):
        # ES, IT, PL write numbers without a trunk prefix: a number of national length is
        # national even when it happens to begin with the calling code (IT mobiles 39x …).
        return _checked(spec.code + digits)
    if digits.startswith(spec.code):  # the calling code without its "+": "7 915 …", "49 30 …"
        rest = digits[len(spec.code) :]
        for trunk in spec.trunk:  # "49 (0)30 …" typed without the "+"
            if trunk != spec.code and rest.startswith(trunk) and _fits(rest[len(trunk) :], spec):
                return _checked(spec.code + rest[len(trunk) :])
        if _fits(rest, spec):
            return _checked(digits)
    if _fits(digits, spec):
        return _checked(spec.code + digits)
    return None


def _checked(digits: str) -> str | None:
    """``+digits`` when it has E.164's shape: no leading 0, 8 to 15 digits."""
    if not digits.isdigit() or digits.startswith("0") or not 8 <= len(digits) <= 15:
        return None
    return "+" + digits


def is_sha256_hex(value: str) -> bool:
    return bool(SHA256_HEX.match(value))
