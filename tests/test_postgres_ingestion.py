"""A CRM living in PostgreSQL lands in the same raw tables as file exports."""

from datetime import datetime

import duckdb
import pytest

from ingestion import settings, sources
from ingestion.contract import ACTIVITIES, CUSTOMERS, MANAGERS

pytestmark = pytest.mark.postgres

SCHEMA = """
create table customers (
    customer_id text primary key, name text not null, email text, phone text, company text,
    created_at timestamp not null, updated_at timestamp not null, manager_id text,
    acquisition_channel text, referred_by_customer_id text, preferred_channel text,
    marketing_consent boolean not null, do_not_contact boolean not null, city text,
    country text, internal_note text);
create table managers (manager_id text primary key, name text, email text, is_active boolean,
    updated_at timestamp);
create table activities (activity_id text primary key, customer_id text, manager_id text,
    activity_type text, occurred_at timestamp, direction text, outcome text);
insert into managers values ('M1', 'Петрова Анна', 'anna@example.ru', true, '2025-01-01');
insert into customers values
    ('C1', 'Иванов Иван', 'ivan@example.ru', '+7 915 123-45-67', 'ООО "Ромашка"',
     '2025-01-05 10:00', '2025-01-06 08:00', 'M1', 'referral', null, 'phone', true, false,
     'Москва', 'RU', 'not in the contract'),
    ('C2', 'Smith John', null, null, null, '2025-01-07', '2025-01-07', null, 'organic', 'C1',
     'email', false, true, null, 'GB', null);
insert into activities values
    ('A1', 'C1', 'M1', 'call', '2025-01-08 12:00', 'outbound', 'completed'),
    ('A2', 'C2', 'M1', 'meeting', '2025-01-09 12:00', 'outbound', 'bogus');
"""


def test_postgres_crm_lands_in_raw_and_unchanged_snapshots_change_nothing(
    postgres_cluster, tmp_path, monkeypatch
):
    dsn = postgres_cluster.create_database("crm_source")
    with postgres_cluster.connect("crm_source") as pg:
        pg.execute(SCHEMA)
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path))
    paths = settings.paths().ensure()
    con = duckdb.connect(str(paths.warehouse))

    statuses = {
        e.table: [r.status for r in sources.ingest_entity(con, e, paths, dsn)]
        for e in (CUSTOMERS, MANAGERS, ACTIVITIES)
    }
    assert statuses == {
        "crm_customers": ["loaded"],
        "crm_managers": ["loaded"],
        "crm_activities": ["loaded"],
    }
    assert con.execute(
        "select customer_id, name, company, created_at, marketing_consent, do_not_contact, "
        "referred_by_customer_id, country, _source_file from raw.crm_customers order by 1"
    ).fetchall() == [
        (
            "C1",
            "Иванов Иван",
            'ООО "Ромашка"',
            datetime(2025, 1, 5, 10),
            True,
            False,
            None,
            "RU",
            f"postgresql://127.0.0.1:{postgres_cluster.port}/crm_source/public.customers",
        ),
        (
            "C2",
            "Smith John",
            None,
            datetime(2025, 1, 7),
            False,
            True,
            "C1",
            "GB",
            f"postgresql://127.0.0.1:{postgres_cluster.port}/crm_source/public.customers",
        ),
    ]
    # The bad outcome is quarantined with its reason; the good activity loads.
    assert con.execute("select activity_id from raw.crm_activities").fetchall() == [("A1",)]
    assert con.execute("select reasons from raw.quarantine").fetchall() == [(["allowed:outcome"],)]

    # Same tables again: nothing new anywhere.
    before = con.execute("select count(*) from raw.load_ledger").fetchone()
    again = [r.status for r in sources.ingest_entity(con, CUSTOMERS, paths, dsn)]
    assert again == ["skipped"]
    assert con.execute("select count(*) from raw.load_ledger").fetchone() == before

    # A change in the CRM arrives as a new snapshot batch.
    with postgres_cluster.connect("crm_source") as pg:
        pg.execute(
            "update customers set marketing_consent = false, updated_at = '2025-02-01' "
            "where customer_id = 'C1'"
        )
    assert [r.status for r in sources.ingest_entity(con, CUSTOMERS, paths, dsn)] == ["loaded"]
    assert con.execute(
        "select marketing_consent from raw.crm_customers where customer_id = 'C1' "
        "order by _batch_id"
    ).fetchall() == [(True,), (False,)]
    con.close()
