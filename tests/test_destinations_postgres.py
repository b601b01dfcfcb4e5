"""The `postgresql` kind against a real throwaway PostgreSQL cluster (tests/pgcluster.py):
table created, upsert by (audience_name, customer_id), removals, one transaction, no secret
in the log."""

from __future__ import annotations

import decimal
import logging
import os
import uuid

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from destinations.sync import sync
from tests.destinations_support import (
    CONSENT_MIX,
    D2,
    SALES_IDS,
    customer,
    make_config,
    sync_log,
    warehouse,
    write_audience,
)

pytestmark = pytest.mark.postgres
PASSWORD = "S3cret-Pg-Passw0rd"


@pytest.fixture
def crm(postgres_cluster, monkeypatch):
    """A fresh database; its DSN (with a password trust auth ignores) in the environment."""
    name = f"crm_{uuid.uuid4().hex[:8]}"
    dsn = postgres_cluster.create_database(name)
    monkeypatch.setenv(
        "RETENTION_TEST_CRM_DSN", make_conninfo(dsn, password=PASSWORD, connect_timeout=5)
    )
    yield postgres_cluster, name
    postgres_cluster.drop_database(name)


def pg_destination(**options):
    return {
        "name": "crm_postgres",
        "kind": "postgresql",
        "purpose": "sales",
        "audiences": ["win_back", "at_risk"],
        "dsn_env": "RETENTION_TEST_CRM_DSN",
        "schema": "retention",
        "table": "call_list",
        **options,
    }


def rows(cluster, dbname, columns="customer_id, priority_score"):
    with cluster.connect(dbname) as pg:
        return pg.execute(
            f"select audience_name, {columns} from retention.call_list order by 1, 2"
        ).fetchall()


def test_upsert_diff_removal_and_rerun(crm, tmp_path, caplog):
    cluster, dbname = crm
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    write_audience(con, "at_risk", [customer("C01"), customer("R1")])
    config = make_config(tmp_path, [pg_destination()])

    first = sync(con, config)
    assert [(r.audience_name, r.status, r.rows_added) for r in first] == [
        ("win_back", "success", len(SALES_IDS)),
        ("at_risk", "success", 2),
    ]
    assert first[0].location == (
        f"postgresql://127.0.0.1:{cluster.port}/{dbname}/retention.call_list"
    )
    table = rows(cluster, dbname)
    assert [r[1] for r in table if r[0] == "win_back"] == sorted(SALES_IDS)
    assert [r[1] for r in table if r[0] == "at_risk"] == ["C01", "R1"], "same customer, 2 rows"
    with cluster.connect(dbname) as pg:
        ivan = pg.execute(
            "select customer_name, extras, synced_run_id, as_of_date::text from "
            "retention.call_list where customer_id = 'C07'"
        ).fetchone()
    assert ivan == (
        "Иванов Иван",
        {"days_since_last_purchase": 120},
        "win_back:2026-10-30",
        "2026-10-30",
    )

    # Next day: C01 unchanged, C02 changed, C07 removed, C09 added (win_back only).
    write_audience(
        con,
        "win_back",
        [
            customer("C01"),
            customer("C02", marketing_allowed=False, priority_score=decimal.Decimal("0.75")),
            customer("C08", phone="020 7946 0958", email=None),
            customer("C09"),
        ],
        as_of=D2,
    )

    def synced_at():
        with cluster.connect(dbname) as pg:
            return dict(
                pg.execute(
                    "select customer_id, synced_at from retention.call_list "
                    "where audience_name = 'win_back'"
                ).fetchall()
            )

    before = synced_at()
    second = sync(con, config, audiences=["win_back"])
    assert [(r.rows_added, r.rows_changed, r.rows_removed) for r in second] == [(1, 1, 1)]
    table = rows(cluster, dbname, "customer_id, priority_score, synced_run_id")
    assert [r[1:] for r in table if r[0] == "win_back"] == [
        ("C01", decimal.Decimal("0.5000"), "win_back:2026-10-30"),
        ("C02", decimal.Decimal("0.7500"), "win_back:2026-10-31"),
        ("C08", decimal.Decimal("0.5000"), "win_back:2026-10-30"),
        ("C09", decimal.Decimal("0.5000"), "win_back:2026-10-31"),
    ]
    assert [r[1] for r in table if r[0] == "at_risk"] == ["C01", "R1"], "other audience untouched"
    after = synced_at()
    assert after["C01"] == before["C01"] and after["C08"] == before["C08"], "unchanged: untouched"
    assert after["C02"] > before["C02"]

    # The same run id again: already delivered, nothing written.
    with cluster.connect(dbname) as pg:
        written = dict(
            pg.execute("select customer_id, xmin::text from retention.call_list").fetchall()
        )
    (again,) = sync(con, config, audiences=["win_back"])
    assert again.status == "already_delivered"
    with cluster.connect(dbname) as pg:
        assert (
            dict(pg.execute("select customer_id, xmin::text from retention.call_list").fetchall())
            == written
        )
        assert pg.execute("select count(*) from retention.call_list").fetchone()[0] == 6

    # --full rewrites every row of the audience and deletes strays.
    with cluster.connect(dbname) as pg:
        pg.execute(
            "insert into retention.call_list (audience_name, customer_id, synced_run_id) "
            "values ('win_back', 'STRAY', 'manual')"
        )
    (full,) = sync(con, config, audiences=["win_back"], full=True)
    assert (full.status, full.details["rows_upserted"], full.details["rows_deleted"]) == (
        "success",
        4,
        1,
    )
    table = rows(cluster, dbname, "customer_id, synced_run_id")
    assert {r[2] for r in table if r[0] == "win_back"} == {"win_back:2026-10-31:full"}

    everything = " ".join(str(v) for r in sync_log(con) for v in r.values()) + caplog.text
    assert PASSWORD not in everything


def test_a_failure_inside_the_transaction_changes_nothing(crm, tmp_path, caplog):
    cluster, dbname = crm
    con = warehouse(tmp_path)
    config = make_config(tmp_path, [pg_destination(audiences=["win_back"])], attempts=2)
    write_audience(con, "win_back", [customer("A"), customer("B"), customer("C")])
    sync(con, config)
    # The CRM forbids deletions: the upserts of the next delivery run first, then the delete
    # fails — all of it must roll back.
    with cluster.connect(dbname) as pg:
        pg.execute(
            "create function retention.no_delete() returns trigger language plpgsql as "
            "$$ begin raise exception 'deletions are disabled in the CRM'; end $$;"
            "create trigger no_delete before delete on retention.call_list "
            "for each row execute function retention.no_delete();"
        )
        before = pg.execute("select * from retention.call_list order by customer_id").fetchall()
    write_audience(
        con,
        "win_back",
        [customer("A", priority_score=decimal.Decimal("0.99")), customer("B"), customer("D")],
        as_of=D2,
    )
    with caplog.at_level(logging.INFO):
        (result,) = sync(con, config)
    assert (result.status, result.attempts) == ("failed", 2)
    assert "deletions are disabled" in result.error
    assert result.rows_failed == 3  # 2 upserts and 1 removal not delivered
    with cluster.connect(dbname) as pg:
        after = pg.execute("select * from retention.call_list order by customer_id").fetchall()
    assert after == before, "the upserts were rolled back with the failed delete"
    state = con.execute(
        "select customer_id, run_id from audiences.destination_state order by 1"
    ).fetchall()
    assert state == [
        ("A", "win_back:2026-10-30"),
        ("B", "win_back:2026-10-30"),
        ("C", "win_back:2026-10-30"),
    ]

    everything = " ".join(str(v) for r in sync_log(con) for v in r.values()) + caplog.text
    assert PASSWORD not in everything
    dsn_parts = conninfo_to_dict(os.environ["RETENTION_TEST_CRM_DSN"])
    assert dsn_parts["password"] == PASSWORD  # the secret was really in play


def test_an_existing_table_without_the_columns_is_refused(crm, tmp_path):
    cluster, dbname = crm
    with cluster.connect(dbname) as pg:
        pg.execute("create schema retention; create table retention.call_list (id int)")
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A")])
    (result,) = sync(con, make_config(tmp_path, [pg_destination(audiences=["win_back"])]))
    assert result.status == "failed" and "exists without columns" in result.error


def test_unreachable_database_fails_without_leaking_the_password(tmp_path, monkeypatch, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv(
        "RETENTION_TEST_CRM_DSN",
        f"postgresql://crm:{PASSWORD}@127.0.0.1:{port}/crm?connect_timeout=2",
    )
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A")])
    config = make_config(tmp_path, [pg_destination(audiences=["win_back"])])
    with caplog.at_level(logging.INFO):
        (result,) = sync(con, config)
    assert result.status == "failed"
    assert result.location == f"postgresql://127.0.0.1:{port}/crm/retention.call_list"
    everything = " ".join(str(v) for r in sync_log(con) for v in r.values()) + caplog.text
    assert PASSWORD not in everything and "crm:" not in everything
