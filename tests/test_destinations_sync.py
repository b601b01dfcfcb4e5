"""Across kinds: consent, failure isolation, skips, the configuration, the CLI and the
Dagster assets generated from destinations.yml."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from destinations import consent, rows
from destinations.config import PROJECT_FILE, ConfigError, load_config, parse_config
from destinations.sync import sync
from orchestration.destination_assets import build_destination_assets
from orchestration.resources import Warehouse
from tests.destinations_support import (
    CONSENT_MIX,
    MARKETING_IDS,
    SALES_IDS,
    customer,
    make_config,
    sync_log,
    warehouse,
    write_audience,
)
from tests.test_destinations_webhook import Receiver

ALL_IDS = {r["customer_id"] for r in CONSENT_MIX}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.postgres
def test_no_disallowed_row_reaches_any_kind(postgres_cluster, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(exports))
    monkeypatch.setenv("RETENTION_TEST_CONSENT_DSN", postgres_cluster.create_database("consent"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    with Receiver() as hook:
        destinations = []
        for purpose in ("marketing", "sales"):
            destinations += [
                {"name": f"files_{purpose}", "kind": "files", "formats": ["csv", "parquet"]},
                {"name": f"onec_{purpose}", "kind": "files", "csv_dialect": "1c"},
                {"name": f"hook_{purpose}", "kind": "webhook", "url": f"{hook.url}/{purpose}"},
                {
                    "name": f"pg_{purpose}",
                    "kind": "postgresql",
                    "dsn_env": "RETENTION_TEST_CONSENT_DSN",
                    "table": f"list_{purpose}",
                },
            ]
            for d in destinations[-4:]:
                d.update(purpose=purpose, audiences=["win_back"])
        for kind in ("google_ads_customer_match", "meta_custom_audience"):
            destinations.append(
                {"name": kind, "kind": kind, "purpose": "marketing", "audiences": ["win_back"]}
            )
        results = sync(con, make_config(tmp_path, destinations))
    assert {r.status for r in results} == {"success"}, [r.error for r in results]

    expected = {"marketing": MARKETING_IDS, "sales": SALES_IDS}
    received: dict[str, set[str]] = {}
    for purpose in expected:
        folder = exports / f"files_{purpose}" / "win_back"
        text = (folder / "win_back_2026-10-30.csv").read_text(encoding="utf-8-sig")
        received[f"files_{purpose}.csv"] = {
            r["customer_id"] for r in csv.DictReader(io.StringIO(text))
        }
        table = pq.read_table(folder / "win_back_2026-10-30.parquet")
        received[f"files_{purpose}.parquet"] = set(table.column("customer_id").to_pylist())
        text = (exports / f"onec_{purpose}" / "win_back" / "win_back_2026-10-30.csv").read_bytes()
        reader = csv.DictReader(io.StringIO(text.decode("cp1251")), delimiter=";")
        received[f"onec_{purpose}"] = {r["customer_id"] for r in reader}
        received[f"hook_{purpose}"] = {
            rec["customer_id"]
            for r in hook.requests
            if r["path"] == f"/{purpose}"
            for rec in r["json"]["records"]
        }
        with postgres_cluster.connect("consent") as pg:
            received[f"pg_{purpose}"] = {
                cid for (cid,) in pg.execute(f"select customer_id from public.list_{purpose}")
            }
    for name, ids in received.items():
        assert ids == expected[name.split(".")[0].rsplit("_", 1)[1]], name

    # Ad platforms: the hashed emails of exactly the marketing-allowed customers with one.
    allowed_emails = {
        _sha(r["email"].strip().lower())
        for r in CONSENT_MIX
        if r["customer_id"] in MARKETING_IDS and r["email"]
    }
    refused_emails = {
        _sha(r["email"]) for r in CONSENT_MIX if r["customer_id"] not in MARKETING_IDS
    }
    for kind, header in (("google_ads_customer_match", "Email"), ("meta_custom_audience", "email")):
        path = exports / kind / "win_back" / "win_back_2026-10-30.csv"
        listed = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert len(listed) == len(MARKETING_IDS)
        hashes = {r[header] for r in listed if r[header]}
        assert hashes == allowed_emails and not hashes & refused_emails


def test_the_python_guard_stops_a_row_the_sql_filter_let_through(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    monkeypatch.setattr(rows.consent, "sql_predicate", lambda purpose: "true")  # a broken filter
    config = make_config(
        tmp_path,
        [{"name": "f", "kind": "files", "purpose": "marketing", "audiences": ["win_back"]}],
    )
    (result,) = sync(con, config)
    assert result.status == "failed" and "not allowed for marketing" in result.error
    assert not (tmp_path / "exports").exists()


def test_consent_rules():
    assert consent.allowed(customer("A"), "marketing")
    assert not consent.allowed(customer("A", is_control=True), "sales")
    assert not consent.allowed(customer("A", is_control=None), "sales")
    assert not consent.allowed(customer("A", marketing_allowed=None), "marketing")
    assert consent.allowed(customer("A", marketing_allowed=False), "sales")
    with pytest.raises(consent.ConsentViolation):
        consent.check([customer("A"), customer("B", contact_allowed=False)], "sales")


def test_a_failing_destination_does_not_block_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    write_audience(con, "at_risk", [customer("R1")])
    slept: list[float] = []
    with Receiver(answer=lambda n, r: 503) as broken:
        config = make_config(
            tmp_path,
            [
                {
                    "name": "broken_hook",
                    "kind": "webhook",
                    "purpose": "marketing",
                    "audiences": ["win_back", "at_risk"],
                    "url": broken.url,
                    "max_attempts": 1,
                },
                {
                    "name": "files",
                    "kind": "files",
                    "purpose": "sales",
                    "audiences": ["win_back", "at_risk"],
                },
            ],
            attempts=3,
            retry_delay_seconds=7,
        )
        results = sync(con, config, sleep=slept.append)
    assert [(r.destination, r.audience_name, r.status, r.attempts) for r in results] == [
        ("broken_hook", "win_back", "failed", 3),
        ("broken_hook", "at_risk", "failed", 3),
        ("files", "win_back", "success", 1),
        ("files", "at_risk", "success", 1),
    ]
    assert len(broken.requests) == 6 and slept == [7, 7, 7, 7]
    logged = [(r["destination"], r["audience_name"], r["status"]) for r in sync_log(con)]
    assert logged == [(r.destination, r.audience_name, r.status) for r in results]
    failed = sync_log(con)[0]
    assert "HTTP 503" in failed["error"] and failed["rows_failed"] == len(MARKETING_IDS)


def test_an_unexpected_error_fails_only_its_own_pair(tmp_path, monkeypatch):
    from destinations.kinds.ad_platforms import MetaCustomAudience

    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))

    def boom(self, row, columns):
        raise ValueError("unexpected value")

    monkeypatch.setattr(MetaCustomAudience, "project", boom)
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    config = make_config(
        tmp_path,
        [
            {
                "name": "m",
                "kind": "meta_custom_audience",
                "purpose": "marketing",
                "audiences": ["win_back"],
            },
            {"name": "f", "kind": "files", "purpose": "marketing", "audiences": ["win_back"]},
        ],
    )
    results = sync(con, config)
    assert [(r.destination, r.status) for r in results] == [("m", "failed"), ("f", "success")]
    assert results[0].error == "ValueError: unexpected value"
    assert [r["status"] for r in sync_log(con)] == ["failed", "success"]


def test_unset_secrets_and_missing_audiences_are_skipped(tmp_path, monkeypatch):
    monkeypatch.delenv("RETENTION_TEST_UNSET_DSN", raising=False)
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    config = make_config(
        tmp_path,
        [
            {
                "name": "crm",
                "kind": "postgresql",
                "purpose": "sales",
                "audiences": ["win_back"],
                "dsn_env": "RETENTION_TEST_UNSET_DSN",
            },
            {"name": "f", "kind": "files", "purpose": "sales", "audiences": ["big_lapsed"]},
        ],
    )
    results = sync(con, config)
    assert [(r.status, r.error) for r in results] == [
        ("skipped", "environment variable RETENTION_TEST_UNSET_DSN not set"),
        (
            "skipped",
            "audience table audiences.audience_big_lapsed does not exist (build the dbt "
            "audience models first)",
        ),
    ]
    assert results[0].run_id == "win_back:2026-10-30"
    assert [r["status"] for r in sync_log(con)] == ["skipped", "skipped"]


def test_the_project_destinations_file_is_valid_and_holds_no_secret():
    config = load_config(PROJECT_FILE)
    assert {d.kind for d in config.destinations} == {
        "files",
        "postgresql",
        "webhook",
        "google_ads_customer_match",
        "meta_custom_audience",
    }
    assert config.audiences and set(config.audiences) <= {
        "at_risk",
        "win_back",
        "contact_overdue",
        "big_lapsed",
    }
    text = PROJECT_FILE.read_text(encoding="utf-8")
    assert "://" not in text and "password" not in text.lower()
    for d in config.destinations:
        for option, value in d.options.items():
            assert not isinstance(value, str) or "@" not in value, (d.name, option)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"kind": "ftp"}, "kind 'ftp' is not one of"),
        ({"purpose": "ads"}, "purpose must be one of"),
        ({"audiences": []}, "audiences must be a non-empty list"),
        ({"name": "Bad-Name"}, "name must match"),
        ({"kind": "postgresql", "dsn": "postgresql://u:p@h/db"}, "use the *_env option"),
        ({"kind": "postgresql"}, "needs dsn_env"),
        ({"kind": "postgresql", "dsn_env": "not a var"}, "must name an environment variable"),
        ({"kind": "webhook", "url": "http://h/x?token=abc"}, "put it in url_env"),
        ({"kind": "webhook"}, "exactly one of url or url_env"),
        ({"kind": "files", "formats": ["xlsx"]}, "formats must be"),
        ({"kind": "files", "csv_dialect": "tsv"}, "csv_dialect must be"),
        (
            {"kind": "google_ads_customer_match", "purpose": "sales"},
            "only serves purpose marketing",
        ),
        ({"colour": "red"}, "unknown options ['colour']"),
        ({"attempts": 0}, "attempts must be"),
    ],
)
def test_configuration_errors_name_the_problem(entry, message):
    base = {"name": "d", "kind": "files", "purpose": "marketing", "audiences": ["win_back"]}
    with pytest.raises(ConfigError) as error:
        parse_config({"destinations": [{**base, **entry}]})
    assert message in str(error.value)
    with pytest.raises(ConfigError, match="declared twice"):
        parse_config({"destinations": [base, base]})


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("RETENTION_HOME", str(home))
    for var in ("RETENTION_WAREHOUSE", "RETENTION_DATA_DIR", "RETENTION_EXPORT_DIR"):
        monkeypatch.delenv(var, raising=False)
    (home / "data").mkdir(parents=True)
    con = warehouse(home / "data")
    write_audience(con, "win_back", CONSENT_MIX)
    write_audience(con, "at_risk", [customer("R1"), customer("R2", is_control=True)])
    con.close()
    config = make_config(
        tmp_path,
        [
            {
                "name": "marketing_files",
                "kind": "files",
                "purpose": "marketing",
                "audiences": ["win_back", "at_risk"],
            },
            {
                "name": "crm_postgres",
                "kind": "postgresql",
                "purpose": "sales",
                "audiences": ["win_back"],
                "dsn_env": "RETENTION_TEST_CLI_DSN",
            },
        ],
    )
    monkeypatch.delenv("RETENTION_TEST_CLI_DSN", raising=False)
    monkeypatch.setenv("RETENTION_DESTINATIONS_FILE", config.source)
    return home


def test_cli_lists_and_exports(cli_env):
    from orchestration.cli import main

    runner = CliRunner()
    listed = runner.invoke(main, ["audiences", "list"])
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[0]: line.split() for line in listed.output.splitlines() if line}
    assert lines["win_back"][1:] == ["2026-10-30", "8", "1", "4", "4"]
    assert lines["at_risk"][1:] == ["2026-10-30", "2", "1", "1", "1"]
    assert "RETENTION_TEST_CLI_DSN not set" in listed.output

    one = runner.invoke(
        main, ["audiences", "export", "--audience", "win_back", "--destination", "marketing_files"]
    )
    assert one.exit_code == 0, one.output
    assert "marketing_files       win_back          success" in one.output
    folder = cli_env / "data" / "exports" / "marketing_files" / "win_back"
    assert (folder / "win_back_2026-10-30.csv").is_file()

    everything = runner.invoke(main, ["audiences", "export", "--all"])
    assert everything.exit_code == 0, everything.output
    statuses = [
        line.split()[2]
        for line in everything.output.splitlines()
        if "win_back " in line or "at_risk " in line
    ]
    assert "already_delivered" in statuses and "skipped" in statuses and "success" in statuses

    full = runner.invoke(
        main, ["audiences", "export", "--destination", "marketing_files", "--full"]
    )
    assert full.exit_code == 0 and (folder / "win_back_2026-10-30_full.csv").is_file()

    log = runner.invoke(main, ["audiences", "log", "--limit", "50"])
    assert log.exit_code == 0 and log.output.count("\n") == 6  # 1 + 3 + 2 deliveries

    assert runner.invoke(main, ["audiences", "export"]).exit_code == 2
    unknown = runner.invoke(main, ["audiences", "export", "--destination", "nowhere"])
    assert unknown.exit_code == 1 and "no destination named 'nowhere'" in unknown.output


def test_cli_export_fails_when_a_delivery_fails(cli_env, monkeypatch):
    from orchestration.cli import main

    monkeypatch.setenv(
        "RETENTION_TEST_CLI_DSN", "postgresql://u:pw12345@127.0.0.1:1/x?connect_timeout=1"
    )
    result = CliRunner().invoke(main, ["audiences", "export", "--audience", "win_back"])
    assert result.exit_code == 1
    assert "1 of 2 deliveries failed" in result.output
    assert "pw12345" not in result.output


def test_dagster_assets_are_generated_from_the_yaml_and_deliver(tmp_path, monkeypatch):
    config = make_config(
        tmp_path,
        [
            {
                "name": "marketing_files",
                "kind": "files",
                "purpose": "marketing",
                "audiences": ["win_back", "at_risk"],
            },
            {
                "name": "crm_postgres",
                "kind": "postgresql",
                "purpose": "sales",
                "audiences": ["win_back"],
                "dsn_env": "RETENTION_TEST_DAGSTER_DSN",
            },
        ],
    )
    monkeypatch.delenv("RETENTION_TEST_DAGSTER_DSN", raising=False)
    assets = build_destination_assets(config)  # connects to nothing: no DSN, no warehouse yet
    assert [a.key for a in assets] == [
        dg.AssetKey(["destinations", "marketing_files__win_back"]),
        dg.AssetKey(["destinations", "marketing_files__at_risk"]),
        dg.AssetKey(["destinations", "crm_postgres__win_back"]),
    ]
    assert [a.asset_deps[a.key] for a in assets] == [
        {dg.AssetKey(["audiences", "audience_win_back"])},
        {dg.AssetKey(["audiences", "audience_at_risk"])},
        {dg.AssetKey(["audiences", "audience_win_back"])},
    ]
    assert {a.group_names_by_key[a.key] for a in assets} == {"destinations"}

    db = tmp_path / "warehouse.duckdb"
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    con.close()
    monkeypatch.setenv("RETENTION_WAREHOUSE", str(db))
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path))
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    result = dg.materialize(
        [assets[0], assets[2]], resources={"warehouse": Warehouse()}, raise_on_error=False
    )
    assert result.success
    meta = {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node(assets[0].op.name)
        + result.asset_materializations_for_node(assets[2].op.name)
    }
    files = meta["marketing_files__win_back"]
    assert files["status"].value == "success" and files["rows_added"].value == 4
    assert files["folder"].value == str(tmp_path / "exports" / "marketing_files" / "win_back")
    assert "win_back_2026-10-30.manifest.json" in files["files"].value
    skipped = meta["crm_postgres__win_back"]
    assert skipped["status"].value == "skipped" and "not set" in skipped["reason"].value

    # A failed delivery fails its asset only.
    monkeypatch.setenv("RETENTION_TEST_DAGSTER_DSN", "postgresql://127.0.0.1:1/x?connect_timeout=1")
    again = dg.materialize(
        [assets[0], assets[2]], resources={"warehouse": Warehouse()}, raise_on_error=False
    )
    assert not again.success
    failed = {e.step_key for e in again.all_events if e.is_step_failure}
    assert failed == {assets[2].op.name}


def test_manifest_json_is_valid_for_every_kind_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_EXPORT_DIR", str(tmp_path / "exports"))
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    config = make_config(
        tmp_path,
        [
            {"name": "f", "kind": "files", "purpose": "marketing", "audiences": ["win_back"]},
            {
                "name": "g",
                "kind": "google_ads_customer_match",
                "purpose": "marketing",
                "audiences": ["win_back"],
            },
        ],
    )
    sync(con, config)
    for manifest in Path(tmp_path / "exports").rglob("*.manifest.json"):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        assert data["run_id"] == "win_back:2026-10-30" and data["row_count"] == 4
        for entry in data["files"]:
            digest = hashlib.sha256((manifest.parent / entry["name"]).read_bytes()).hexdigest()
            assert entry["sha256"] == digest
    assert ALL_IDS > MARKETING_IDS
