"""Email and phone normalisation for ad platforms, and the hashes of the customer lists."""

from __future__ import annotations

import csv
import hashlib
import re

import pytest

from destinations.identifiers import CALLING_CODES, normalize_email, normalize_phone, sha256_hex
from destinations.sync import sync
from tests.destinations_support import (
    CONSENT_MIX,
    MARKETING_IDS,
    customer,
    make_config,
    warehouse,
    write_audience,
)

SHA256 = re.compile(r"^[a-f0-9]{64}$")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # Russia: +7, the trunk 8, the code typed without "+", a bare national number
        ("+7 (915) 123-45-67", "RU", "+79151234567"),
        ("8 (915) 123-45-67", "RU", "+79151234567"),
        ("89151234567", "RU", "+79151234567"),
        ("7 915 123 45 67", "RU", "+79151234567"),
        ("(495) 123-45-67", "RU", "+74951234567"),
        ("+8 915 123 45 67", "RU", "+79151234567"),
        ("8 (915) 123-45-67 доб. 12", "RU", "+79151234567"),
        ("8-10-44-20-7946-0958", "RU", "+442079460958"),
        # Kazakhstan and Belarus, Ukraine
        ("8 701 123 4567", "KZ", "+77011234567"),
        ("701 123 4567", "KZ", "+77011234567"),
        ("8 029 123-45-67", "BY", "+375291234567"),
        ("+375 29 123-45-67", "BY", "+375291234567"),
        ("067 123 45 67", "UA", "+380671234567"),
        # Western Europe: trunk 0 dropped, (0) after the code dropped, 00 prefix
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "GB", "+442079460958"),
        ("44 20 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("07700 900123", "GB", "+447700900123"),
        ("01 234 5678", "IE", "+35312345678"),
        ("087 123 4567", "IE", "+353871234567"),
        ("030 123456", "DE", "+4930123456"),
        ("+49 (0)30 123456", "DE", "+4930123456"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("020 123 4567", "NL", "+31201234567"),
        # no trunk prefix: Italy keeps its 0, Spain and Poland have none
        ("06 1234 5678", "IT", "+390612345678"),
        ("912 345 678", "ES", "+34912345678"),
        ("512 345 678", "PL", "+48512345678"),
        # North America
        ("(415) 555-2671", "US", "+14155552671"),
        ("1-415-555-2671", "US", "+14155552671"),
        ("+1 415 555 2671 ext 7", "US", "+14155552671"),
        # already international: the row's country does not matter
        ("+33 1 23 45 67 89", "GB", "+33123456789"),
        ("+33 1 23 45 67 89", None, "+33123456789"),
        # unusable
        ("+7 915 123 45 6", "RU", None),  # one digit short for +7
        ("8 915 123", "RU", None),
        ("123", "GB", None),
        ("555 1234", "XX", None),  # national number of a country outside the table
        ("555 1234", None, None),
        ("call me", "GB", None),
        ("+44 20 +7946", "GB", None),
        ("", "RU", None),
        (None, "RU", None),
    ],
)
def test_phone_to_e164(raw, country, expected):
    assert normalize_phone(raw, country) == expected


def test_calling_codes_cover_the_countries_of_the_data():
    assert {"RU", "GB", "IE", "DE", "FR", "US", "NL", "ES", "IT", "PL", "UA", "KZ", "BY"} <= set(
        CALLING_CODES
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ivan.Petrov@Example.RU ", "ivan.petrov@example.ru"),
        ("JOHN@GMAIL.COM", "john@gmail.com"),
        ("a+tag@x.ie", "a+tag@x.ie"),
        ("no-at-sign.com", None),
        ("two@@x.com", None),
        ("sp ace@x.com", None),
        ("x@nodot", None),
        ("", None),
        (None, None),
    ],
)
def test_email_normalisation(raw, expected):
    assert normalize_email(raw) == expected


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_sha256_hex_is_hashlib():
    assert sha256_hex("ivan.petrov@example.ru") == _hex("ivan.petrov@example.ru")
    assert SHA256.match(sha256_hex(""))


def _read(path):
    text = path.read_bytes().decode("utf-8")
    assert not text.startswith("\ufeff"), "ad platform files carry no BOM"
    return list(csv.DictReader(text.splitlines()))


def test_customer_match_files_hash_like_the_platforms_document(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    no_identifier = customer("C09", email="not an email", phone="n/a")
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [*CONSENT_MIX, no_identifier])
    config = make_config(
        tmp_path,
        [
            {
                "name": "google",
                "kind": "google_ads_customer_match",
                "purpose": "marketing",
                "audiences": ["win_back"],
            },
            {
                "name": "meta",
                "kind": "meta_custom_audience",
                "purpose": "marketing",
                "audiences": ["win_back"],
            },
        ],
    )
    results = sync(con, config)
    assert [r.status for r in results] == ["success", "success"]
    assert all(r.rows_excluded == 1 and r.rows_total == len(MARKETING_IDS) for r in results)

    # Normalised by hand from the fixture rows (C01, C04: defaults; C07: Russian; C08: no email).
    default_email = {"C01": "c01@example.com", "C04": "c04@example.com"}
    expected_people = [
        (default_email["C01"], "+442079460958", "GB"),
        (default_email["C04"], "+442079460958", "GB"),
        ("ivan.petrov@example.ru", "+79151234567", "RU"),
        (None, "+442079460958", "GB"),
    ]
    folder = tmp_path / "exports"
    google = _read(folder / "google" / "win_back" / "win_back_2026-10-30.csv")
    assert list(google[0]) == ["Email", "Phone", "Country"]
    assert [(r["Email"], r["Phone"], r["Country"]) for r in google] == [
        (_hex(e) if e else "", _hex(p), c) for e, p, c in expected_people
    ]
    meta = _read(folder / "meta" / "win_back" / "win_back_2026-10-30.csv")
    assert list(meta[0]) == ["email", "phone", "country"]
    assert [(r["email"], r["phone"], r["country"]) for r in meta] == [
        (_hex(e) if e else "", _hex(p.lstrip("+")), c.lower()) for e, p, c in expected_people
    ]
    for rows in (google, meta):
        hashes = [v for r in rows for k, v in r.items() if k.lower() != "country" and v]
        assert hashes and all(SHA256.match(h) for h in hashes)
        # nothing readable leaks: no email, no phone digits, no name
        flat = " ".join(v for r in rows for v in r.values())
        assert "@" not in flat and "Иванов" not in flat and "7946" not in flat


def test_customer_match_remove_file_holds_the_hashes_delivered_before(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    from tests.destinations_support import D2

    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("C01"), customer("C02"), customer("C03")])
    config = make_config(
        tmp_path,
        [
            {
                "name": "google",
                "kind": "google_ads_customer_match",
                "purpose": "marketing",
                "audiences": ["win_back"],
            }
        ],
    )
    sync(con, config)
    # C02 leaves; C03 changes email (old hash to remove, new to add); C04 arrives.
    write_audience(
        con,
        "win_back",
        [customer("C01"), customer("C03", email="new@example.com"), customer("C04")],
        as_of=D2,
    )
    (result,) = sync(con, config)
    assert (result.rows_added, result.rows_changed, result.rows_removed) == (1, 1, 1)
    folder = tmp_path / "exports" / "google" / "win_back"
    added = _read(folder / "win_back_2026-10-31.add.csv")
    removed = _read(folder / "win_back_2026-10-31.remove.csv")
    assert {r["Email"] for r in added} == {_hex("new@example.com"), _hex("c04@example.com")}
    # C02 leaves with email and phone; C03 only loses its old email (the phone stays).
    assert sorted((r["Email"], r["Phone"]) for r in removed) == sorted(
        [(_hex("c02@example.com"), _hex("+442079460958")), (_hex("c03@example.com"), "")]
    )
