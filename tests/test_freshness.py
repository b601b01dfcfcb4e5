"""Source freshness: the expectation comes from the dbt source definitions, staleness from the
ledger's last delivery with rows."""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingestion import freshness, loader

SOURCES = """
version: 2
sources:
  - name: shop
    config:
      freshness:
        warn_after: {count: 2, period: day}
    tables:
      - name: orders
      - name: refunds
        config:
          freshness:
            warn_after: {count: 90, period: minute}
      - name: legacy
        freshness:
          warn_after: {count: 5, period: hour}
"""


def test_expected_interval_per_table_with_overrides(tmp_path):
    folder = tmp_path / "staging" / "shop"
    folder.mkdir(parents=True)
    (folder / "_shop__sources.yml").write_text(SOURCES, encoding="utf-8")
    (folder / "_shop__models.yml").write_text("version: 2\nmodels: []\n", encoding="utf-8")
    assert freshness.expected_within_hours(tmp_path / "staging") == {
        "shop.orders": 48,
        "shop.refunds": 1.5,
        "shop.legacy": 5,
    }


def test_a_source_is_stale_past_its_interval_or_when_it_never_delivered(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loader.ensure_schema(con)
    rows = [
        ("orders.orders", "loaded", 10, datetime(2026, 11, 20, 12, 0)),  # 60 h before now
        ("orders.orders", "loaded", 0, datetime(2026, 11, 22, 12, 0)),  # empty file: no delivery
        (
            "crm.managers",
            "loaded",
            3,
            datetime(2026, 11, 1, 0, 0),
        ),  # 22 days = 528 h, within 45 days
        ("support.tickets", "rejected", 0, datetime(2026, 11, 22, 23, 0)),  # never loaded
    ]
    for entity, status, loaded, at in rows:
        con.execute(
            "insert into raw.load_ledger (entity, status, rows_loaded, loaded_at) "
            "values (?, ?, ?, ?)",
            [entity, status, loaded, at],
        )
    report = {
        f.entity: f for f in freshness.source_freshness(con, now=datetime(2026, 11, 23, 0, 0))
    }
    assert report["orders.orders"].age_hours == 60 and report["orders.orders"].is_stale
    assert report["crm.managers"].age_hours == 528 and not report["crm.managers"].is_stale
    assert report["support.tickets"].age_hours is None and report["support.tickets"].is_stale
    con.close()
