"""Customer lists for ad platforms: hashed identifiers in the platform's own upload format.

Both kinds write, like ``files``, into ``<folder>/<destination>/<audience>/`` atomically
with a manifest, in UTF-8 without BOM (every value is ASCII):

* ``<stem>.csv`` — the full list (upload with "replace the list");
* ``<stem>.add.csv`` — customers added since the last successful delivery, and the new
  identifiers of changed ones;
* ``<stem>.remove.csv`` — customers who left the audience (or lost consent), and identifiers
  a changed customer no longer has, from the hashes kept in ``destination_state`` (apply the
  removal before the addition);
* ``<stem>.manifest.json``.

Identifiers (``destinations.identifiers``): email trimmed and lower-cased, phone normalised to
E.164, each then SHA-256 hex; country is the ISO 3166-1 alpha-2 code, not hashed. A customer
with neither a usable email nor phone cannot be matched and is left out (counted as
``rows_excluded``).

Sources for the formats:

* Google Ads Customer Match — "Format your customer data file" (support.google.com/google-ads/
  answer/7659867) and the upload template: CSV with English headers ``Email``, ``Phone``,
  ``First Name``, ``Last Name``, ``Country``, ``Zip``; hashed values must be SHA-256 of the
  normalised value, phone "formatted as E.164 prior to hashing" (``+`` and country code). We
  have no split first/last name or zip, so the file has ``Email``, ``Phone``, ``Country``.
* Meta custom audience (customer list) — "How to format a customer list" (Meta Business Help
  Centre, article 2082575038703844) and the Marketing API's "Hashing and normalizing data":
  headers ``email``, ``phone``, ``country`` (also ``fn``, ``ln``, ``ct``, ``st``, ``zip`` …);
  phone: digits only *with* the country code, no ``+``, no leading zeros, then SHA-256;
  country: lower-case ISO alpha-2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from destinations.identifiers import normalize_email, normalize_phone, sha256_hex
from destinations.kinds.base import Kind, Outcome, Plan
from destinations.kinds.files import (
    AtomicFiles,
    base_manifest,
    delivery_folder,
    describe,
    file_stem,
    write_csv,
    write_manifest,
)


class _CustomerList(Kind):
    options: ClassVar[frozenset[str]] = frozenset({"folder"})
    purposes: ClassVar[tuple[str, ...]] = ("marketing",)
    dagster_kinds: ClassVar[frozenset[str]] = frozenset({"csv", "python"})
    email_header: ClassVar[str]
    phone_header: ClassVar[str]
    country_header: ClassVar[str]

    @classmethod
    def validate(cls, purpose, options) -> None:
        super().validate(purpose, options)
        if "folder" in options and not isinstance(options["folder"], str):
            raise ValueError("folder must be a path")

    @staticmethod
    def phone_for_hashing(e164: str) -> str:
        return e164

    @staticmethod
    def country(code: str) -> str:
        return code

    def columns(self, source: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(h, "VARCHAR") for h in (self.email_header, self.phone_header, self.country_header)]

    def project(self, row: Mapping[str, Any], columns) -> dict | None:
        country = str(row.get("country_code") or "").strip().upper() or None
        email = normalize_email(row.get("email"))
        phone = normalize_phone(row.get("phone"), country)
        if email is None and phone is None:
            return None
        return {
            self.email_header: sha256_hex(email) if email else None,
            self.phone_header: sha256_hex(self.phone_for_hashing(phone)) if phone else None,
            self.country_header: self.country(country) if country else None,
        }

    def removal_payload(self, delivered: Mapping[str, Any]) -> dict[str, Any] | None:
        return dict(delivered)

    def folder(self, audience: str):
        return delivery_folder(
            self.destination.options.get("folder"), self.destination.name, audience
        )

    def location(self) -> str:
        return str(self.folder("<audience>").parent)

    def _removal_rows(self, plan: Plan) -> list[dict[str, Any]]:
        out = []
        now = dict(plan.current)
        for change in sorted([*plan.removed, *plan.changed], key=lambda c: c.customer_id):
            old = change.previous or {}
            new = now.get(change.customer_id) or {}
            gone = {
                h: old.get(h)
                for h in (self.email_header, self.phone_header)
                if old.get(h) and old.get(h) != new.get(h)
            }
            if gone:
                out.append({**gone, self.country_header: old.get(self.country_header)})
        return out

    def deliver(self, plan: Plan) -> Outcome:
        folder = self.folder(plan.audience)
        stem = file_stem(plan.run_id)
        headers = [c for c, _ in plan.columns]
        added = {c.customer_id for c in (*plan.added, *plan.changed)}
        parts = (
            (f"{stem}.csv", [row for _, row in plan.current]),
            (f"{stem}.add.csv", [row for cid, row in plan.current if cid in added]),
            (f"{stem}.remove.csv", self._removal_rows(plan)),
        )
        files = AtomicFiles(folder)
        described = []
        try:
            for name, rows in parts:
                stats: dict[str, int] = {}
                temp = files.write(
                    name,
                    lambda path, rows=rows, stats=stats: stats.update(
                        write_csv(path, headers, rows, dialect="plain")
                    ),
                )
                described.append(describe(temp, name, "csv", stats))
            manifest = base_manifest(plan, self.name) | {
                "hashing": "sha256 hex of the normalised email and phone; country in clear",
                "files": described,
            }
            write_manifest(files, f"{stem}.manifest.json", manifest)
            written = files.commit()
        except BaseException:
            files.abort()
            raise
        return Outcome(
            location=str(folder),
            files=[str(p) for p in written],
            details={"folder": str(folder), "manifest": str(folder / f"{stem}.manifest.json")},
        )


class GoogleAdsCustomerMatch(_CustomerList):
    name = "google_ads_customer_match"
    email_header = "Email"
    phone_header = "Phone"
    country_header = "Country"


class MetaCustomAudience(_CustomerList):
    name = "meta_custom_audience"
    email_header = "email"
    phone_header = "phone"
    country_header = "country"

    @staticmethod
    def phone_for_hashing(e164: str) -> str:
        return e164.lstrip("+")  # Meta: digits with the country code, no "+"

    @staticmethod
    def country(code: str) -> str:
        return code.lower()
