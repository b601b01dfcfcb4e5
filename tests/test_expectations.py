"""The data-quality gate: suites as GX JSON, enforced in SQL by the loader, validated again by
Great Expectations on pandas, reconciled, reported by a Dagster asset check and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from click.testing import CliRunner

from expectations import rules
from expectations import validate as gx_validate
from ingestion import loader, settings
from ingestion.contract import (
    CUSTOMERS,
    DATE_FLOOR,
    ENTITIES,
    ORDER_LINES,
    ORDERS,
    TICKETS,
)
from ingestion.demo.generator import generate
from orchestration import expectation_checks, partitions
from orchestration.cli import main as cli
from orchestration.ingestion_assets import ingestion_assets
from orchestration.report import render
from orchestration.resources import Warehouse
from tests.test_bad_input_corpus import (
    CUSTOMERS_H,
    LINES_H,
    ORDERS_H,
    TICKETS_H,
    customer,
    line,
    order,
    orders,
    put,
    ticket,
)


def suite_json(entity) -> dict:
    return json.loads(rules.suite_path(entity).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the suites


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.table)
def test_every_suite_loads_in_gx_with_every_expectation(entity):
    """GX 1.x drops an expectation it cannot build with only a log line: count them."""
    from great_expectations.core import ExpectationSuite

    document = suite_json(entity)
    loaded = ExpectationSuite(
        name=document["name"], expectations=document["expectations"], meta=document["meta"]
    )
    assert len(loaded.expectations) == len(document["expectations"]) > 0
    assert len(gx_validate.gx_suite(rules.load_suite(entity)).expectations) == len(
        document["expectations"]
    )


def test_a_misspelt_expectation_is_an_error_not_a_log_line():
    entity = ORDERS
    document = suite_json(entity)
    document["expectations"].append(
        {
            "type": "expect_column_values_to_be_bogus",
            "kwargs": {"column": "order_id"},
            "meta": {"severity": "warn", "reason": "bogus"},
        }
    )
    with pytest.raises(rules.SuiteError):  # the SQL engine refuses it …
        rules.parse_suite(entity, document)
    suite = rules.Suite(entity.table, entity, rules.load_suite(entity).rules, document)
    with pytest.raises(rules.SuiteError, match="GX loaded"):  # … and so does the GX side
        gx_validate.gx_suite(suite)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kwargs": {"column": "total_amount", "min_value": 0, "mostly": 0.9}}, "unsupported"),
        ({"kwargs": {"column": "no_such_column"}}, "not in the batch"),
        ({"meta": {"severity": "block", "reason": "x"}}, "severity"),
        ({"meta": {"severity": "warn", "reason": "missing:order_id"}}, "not unique"),
    ],
)
def test_the_sql_engine_refuses_what_it_cannot_enforce_exactly(change, message):
    document = suite_json(ORDERS)
    item = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "total_amount", "min_value": 0},
        "meta": {"severity": "warn", "reason": "new_rule"},
    }
    item.update(change)
    document["expectations"].append(item)
    with pytest.raises(rules.SuiteError, match=message):
        rules.parse_suite(ORDERS, document)


def _by_reason(entity) -> dict[str, dict]:
    return {e["meta"]["reason"]: e for e in suite_json(entity)["expectations"]}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.table)
def test_suites_cover_the_contract(entity):
    suite = _by_reason(entity)
    for e in suite.values():
        assert e["meta"]["severity"] in rules.SEVERITIES
    presence = suite["missing_columns"]
    assert presence["type"] == "expect_table_columns_to_match_set"
    assert presence["meta"]["severity"] == "reject_batch"
    assert presence["kwargs"]["column_set"] == [c.name for c in entity.columns if c.required]
    for column in entity.columns:
        text = column.name if column.type == "VARCHAR" else column.name + rules.TEXT_SUFFIX
        if column.required:
            assert suite[f"missing:{column.name}"]["kwargs"] == {"column": text}
        if column.type != "VARCHAR":
            kwargs = suite[f"type:{column.name}"]["kwargs"]
            assert kwargs["column"] == column.name
            assert kwargs["row_condition"]["column"]["name"] == text
        if column.type == "TIMESTAMP":
            assert suite[f"range:{column.name}"]["kwargs"]["min_value"].startswith(DATE_FLOOR)
            assert suite[f"future:{column.name}"]["kwargs"]["max_value"] == {
                "$PARAMETER": "latest_plausible"
            }
        if column.allowed:
            assert suite[f"allowed:{column.name}"]["kwargs"]["value_set"] == list(column.allowed)
        if column.name in ("email", "phone"):
            assert suite[f"format:{column.name}"]["meta"]["severity"] == "warn"
    unique = suite["duplicate_key"]
    assert unique["kwargs"]["column_list"] == [rules.BATCH_COLUMN, *entity.key]
    assert unique["meta"]["reject_batch_above"] == 0.05
    assert {r: e["meta"]["severity"] for r, e in suite.items()}.keys() == {
        e.reason for e in rules.load_suite(entity).rules
    }


def test_the_ranges_the_issue_asks_for():
    orders_, lines_, tickets_ = _by_reason(ORDERS), _by_reason(ORDER_LINES), _by_reason(TICKETS)
    assert orders_["negative:total_amount"]["kwargs"]["min_value"] == 0
    assert orders_["negative:discount_amount"]["kwargs"]["min_value"] == 0
    assert lines_["range:quantity"]["kwargs"] == {
        "column": "quantity",
        "min_value": 0,
        "strict_min": True,
    }
    assert lines_["unknown_order"]["kwargs"]["value_set"] == {"$PARAMETER": "known_order_ids"}
    satisfaction = tickets_["range:satisfaction_score"]["kwargs"]
    assert (satisfaction["min_value"], satisfaction["max_value"]) == (1, 5)
    assert tickets_["negative:reopen_count"]["kwargs"]["min_value"] == 0
    for later in ("closed_at", "first_response_at"):
        pair = tickets_[f"order:opened_at_before_{later}"]["kwargs"]
        assert (pair["column_A"], pair["column_B"], pair["or_equal"]) == (later, "opened_at", True)


# ---------------------------------------------------------------- two engines, one answer


DIRTY_ORDERS = {
    # file → content; per reason the rows written by hand to break it
    "orders_1.csv": ORDERS_H
    + orders(*range(1, 41))
    + order(41, total="-1.00")  # negative:total_amount
    + order(42, total="-2.00", status="lost")  # negative:total_amount, allowed:status
    + order(43, ordered="2099-01-01 00:00:00", updated="2099-01-01 00:00:00")  # future × 2
    + order(44, ordered="1970-01-01 00:00:00")  # range:ordered_at
    + order(45, ordered="31.02.2025 10:00:00")  # type:ordered_at (no 31 February)
    + order(46, total="n/a")  # type:total_amount
    + order(47).replace("O47,", ",")  # missing:order_id
    + order(7, total="70.00"),  # duplicate_key (row 7 held back, this one loads)
    "orders_2.csv": ORDERS_H
    + orders(*range(100, 130))
    + order(130, status="LOST")  # allowed:status
    + order(131, customer="")  # missing:customer_id
    + order(101),  # exact copy: duplicate_key
}
DIRTY_ORDERS_EXPECTED = {
    "negative:total_amount": 2,
    "allowed:status": 2,
    "future:ordered_at": 1,
    "future:updated_at": 1,
    "range:ordered_at": 1,
    "type:ordered_at": 1,
    "type:total_amount": 1,
    "missing:order_id": 1,
    "missing:customer_id": 1,
    "duplicate_key": 2,
}


def test_gx_and_the_sql_quarantine_reconcile_on_a_dirty_batch(tmp_path, monkeypatch):
    # Small chunks: two files share chunks, and a key's rows must stay in one chunk.
    monkeypatch.setattr(gx_validate, "CHUNK_ROWS", 7)
    landing = tmp_path / "landing"
    for name, content in DIRTY_ORDERS.items():
        put(landing, ORDERS, name, content)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = loader.load_landing(con, landing, tmp_path / "rejected", [ORDERS])["orders_orders"]
    assert [(r.status, r.rows_read, r.rows_quarantined) for r in results] == [
        ("loaded", 48, 8),  # rows 41–47 and row 7 (the earlier O7)
        ("loaded", 33, 3),
    ]
    quarantined = dict(
        con.execute(
            "select reason, count(*) from (select unnest(reasons) as reason from raw.quarantine) "
            "group by all"
        ).fetchall()
    )
    assert quarantined == DIRTY_ORDERS_EXPECTED
    verdicts = con.execute(
        "select reason, sum(unexpected_count), sum(sql_unexpected_count), "
        "sum(quarantined_count), bool_and(reconciled), sum(element_count) "
        "from raw.batch_validation group by reason"
    ).fetchall()
    by_reason = {r: rest for r, *rest in verdicts}
    assert {r for r, *_ in verdicts} == {r.reason for r in rules.load_suite(ORDERS).rules}
    for reason, (gx, sql, held, reconciled, elements) in by_reason.items():
        assert reconciled, reason
        assert elements == 48 + 33
        if reason == "duplicate_key":
            # GX counts every row of a repeated key (2 pairs); one row per key stays loaded.
            assert (gx, sql, held) == (4, 4, 2)
        elif reason == "missing_columns":
            assert (gx, held) == (0, 0)
        else:
            assert gx == sql == held == DIRTY_ORDERS_EXPECTED.get(reason, 0), reason


def test_gx_rechecks_a_sample_holding_every_flagged_row(tmp_path, monkeypatch):
    """Above RETENTION_GX_SAMPLE_ROWS clean rows, GX re-checks every row SQL flags, the first
    rows of each file and a hash-chosen share of the rest: it still finds every unexpected row
    (the hand counts), on fewer rows than were loaded."""
    monkeypatch.setenv("RETENTION_GX_SAMPLE_ROWS", "1")
    landing = tmp_path / "landing"
    for name, content in DIRTY_ORDERS.items():
        put(landing, ORDERS, name, content)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = loader.load_landing(con, landing, tmp_path / "rejected", [ORDERS])["orders_orders"]
    assert [r.rows_read for r in results] == [48, 33]
    verdicts = con.execute(
        "select reason, sum(unexpected_count), sum(sql_unexpected_count), "
        "sum(quarantined_count), bool_and(reconciled), sum(element_count), "
        "sum(sql_element_count) from raw.batch_validation group by reason"
    ).fetchall()
    assert {r for r, *_ in verdicts} == {r.reason for r in rules.load_suite(ORDERS).rules}
    sampled = set()
    for reason, gx, sql, held, reconciled, elements, checked in verdicts:
        assert reconciled, reason
        sampled.add(elements)
        # Rows that parsed reach the rules: all but the unparsable ones (none in these files).
        assert checked == 48 + 33
        if reason == "duplicate_key":
            assert (gx, sql, held) == (4, 4, 2)
        elif reason != "missing_columns":
            assert gx == sql == held == DIRTY_ORDERS_EXPECTED.get(reason, 0), reason
    # One sample, judged by every expectation. Its floor by hand: the flagged rows (file 1:
    # rows 41-47 and both O7 rows 7 and 48; file 2: rows 31, 32 and both O101 rows 2 and 33)
    # and the first five rows of each file (file 2's row 2 already counted): 9 + 4 + 5 + 4.
    # The hash share of the other 59 rows is 1/81 of them, about one row.
    (elements,) = sampled
    assert 22 <= elements <= 26


def test_the_sample_depends_on_the_files_not_where_they_were_loaded(tmp_path, monkeypatch):
    """The same deliveries loaded in two homes: the same rows sampled (about half of the
    unflagged rows by hash), so GX's element counts are reproducible."""
    monkeypatch.setenv("RETENTION_GX_SAMPLE_ROWS", "40")
    samples = []
    for home in ("first", "second"):
        landing = tmp_path / home / "landing"
        for name, content in DIRTY_ORDERS.items():
            put(landing, ORDERS, name, content)
        con = duckdb.connect(str(tmp_path / home / "w.duckdb"))
        loader.load_landing(con, landing, tmp_path / home / "rejected", [ORDERS])
        samples.append(
            con.execute(
                "select source_file, max(element_count), max(sql_element_count) "
                "from raw.batch_validation group by 1 order by 1"
            ).fetchall()
        )
        con.close()
    assert samples[0] == samples[1]
    # Sampled: fewer rows than checked, more than the flagged and first rows (22).
    assert 22 < sum(n for _, n, _ in samples[0]) < sum(c for _, _, c in samples[0]) == 81


def test_the_same_batch_validated_directly_gives_the_same_counts(tmp_path):
    """validate_frames on a hand-made frame: per-file counts from GX's unexpected indexes."""
    import pandas as pd

    suite = rules.load_suite(TICKETS)
    columns = rules.frame_columns(TICKETS)
    rows = []
    for batch_id, satisfaction in ((1, 5.0), (1, 7.0), (2, 9.0), (2, None), (2, 0.0)):
        row = dict.fromkeys(columns)
        row.update(
            ticket_id=f"T{len(rows)}",
            customer_id="C1",
            status="closed",
            category="question",
            satisfaction_score=satisfaction,
            satisfaction_score__text=None if satisfaction is None else str(satisfaction),
            _batch_id=batch_id,
        )
        for name in ("opened_at", "updated_at"):
            row[name] = pd.Timestamp("2025-01-01")
            row[name + rules.TEXT_SUFFIX] = "2025-01-01"
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(columns))
    results = gx_validate.validate_frames(
        suite, [frame], {"latest_plausible": pd.Timestamp("2026-01-01").to_pydatetime()}
    )
    satisfaction = {
        r.batch_id: (r.element_count, r.unexpected_count, r.success)
        for r in results
        if r.reason == "range:satisfaction_score"
    }
    assert satisfaction == {1: (2, 1, False), 2: (3, 2, False)}
    assert all(r.error is None for r in results)


def test_a_value_set_parameter_is_validated_by_gx_as_its_complement(tmp_path):
    """unknown_order (order_id in known_order_ids): GX gets the batch's ids that are not known
    and counts the rows holding them, per file, chunk by chunk; the known ids it is handed
    come from a semi-join of the batch with raw.orders_orders."""
    suite = rules.load_suite(ORDER_LINES)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute(
        "create table raw.orders_orders as select 'O' || i as order_id from range(1, 1001) t(i)"
    )
    rows = [  # (batch, order_id): O2000 and O3000 are unknown, a null id is not judged
        (1, "O1"),
        (1, "O1"),
        (1, "O2000"),
        (1, None),
        (2, "O2"),
        (2, "O2000"),
        (2, "O3000"),
        (2, "O3000"),
        (3, "O999"),
    ]
    con.execute(
        "create table batch as select * from (values "
        + ", ".join(f"({b}, {'null' if o is None else repr(o)})" for b, o in rows)
        + ") t(_batch_id, order_id)"
    )
    values = rules.parameter_values(con, suite, datetime(2026, 1, 1), batch="batch")
    assert sorted(values["known_order_ids"]) == ["O1", "O2", "O999"]

    import pandas as pd

    columns = rules.frame_columns(ORDER_LINES)
    frame = pd.DataFrame([dict.fromkeys(columns)] * len(rows), columns=list(columns))
    frame["_batch_id"] = [b for b, _ in rows]
    frame["order_id"] = [o for _, o in rows]
    chunks = [frame.iloc[:5], frame.iloc[5:]]  # O2000 in both chunks
    results = gx_validate.validate_frames(suite, chunks, values)
    unknown = {r.batch_id: r for r in results if r.reason == "unknown_order"}
    assert {b: (r.element_count, r.unexpected_count) for b, r in unknown.items()} == {
        1: (4, 1),
        2: (4, 3),
        3: (1, 0),
    }
    assert {r.expectation_type for r in unknown.values()} == {"expect_column_values_to_be_in_set"}
    assert all(r.error is None for r in unknown.values())


# ------------------------------------------------------------------------ Dagster check


def _materialise(entities, monkeypatch, home):
    monkeypatch.setenv("RETENTION_HOME", str(home))
    assets = [a for a in ingestion_assets if a.key.path[1] in {e.table for e in entities}]
    result = dg.materialize(
        # Files named without a date belong to the day they were written: today.
        assets,
        resources={"warehouse": Warehouse()},
        tags=partitions.range_tags(date.today(), date.today()),
    )
    return {e.asset_key.path[1]: e for e in result.get_asset_check_evaluations()}, result


def test_asset_check_passes_clean_warns_on_warn_and_fails_on_a_rejected_file(tmp_path, monkeypatch):
    home = tmp_path / "home"
    landing = home / "data" / "landing"
    put(landing, ORDERS, "orders.csv", ORDERS_H + orders(1, 2) + order(3, total="-1"))
    put(landing, ORDER_LINES, "lines.csv", LINES_H + line("O1") + line("O9"))
    put(landing, CUSTOMERS, "customers.csv", CUSTOMERS_H + customer(1, email="not-an-email"))
    put(landing, TICKETS, "tickets.csv", TICKETS_H.replace("status,", ""))  # no status column
    checks, result = _materialise([ORDERS, ORDER_LINES, CUSTOMERS, TICKETS], monkeypatch, home)
    assert result.success  # the check never blocks
    orders_check = checks["orders_orders"]
    # A quarantined row is the gate working: passed, reported in the metadata.
    assert orders_check.passed
    assert orders_check.metadata["expectations_failed"].data == {
        "negative:total_amount": {"failed_batches": 1, "unexpected_rows": 1}
    }
    for table, reason in (
        ("orders_order_lines", "unknown_order"),
        ("crm_customers", "format:email"),
    ):
        check = checks[table]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN, table
        assert check.metadata["expectations_failed"].data[reason]["unexpected_rows"] == 1
    tickets_check = checks["support_tickets"]
    assert not tickets_check.passed and tickets_check.severity == dg.AssetCheckSeverity.ERROR
    assert "missing required columns: status" in json.dumps(
        tickets_check.metadata["rejected_files"].data
    )
    # One materialisation per asset and daily partition of the run, all reconciled.
    reconcile = {
        (e.asset_key, e.event_specific_data.materialization.metadata["rows_reconcile"].value)
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert reconcile == {
        (dg.AssetKey(["raw", e.table]), True) for e in (ORDERS, ORDER_LINES, CUSTOMERS, TICKETS)
    }


def test_a_check_that_cannot_import_gx_fails(tmp_path, monkeypatch):
    home = tmp_path / "home"
    put(home / "data/landing", ORDERS, "orders.csv", ORDERS_H + orders(1, 2))
    monkeypatch.setitem(sys.modules, "great_expectations", None)  # import raises ImportError
    monkeypatch.setattr(gx_validate, "_GX", {})
    checks, result = _materialise([ORDERS], monkeypatch, home)
    check = checks["orders_orders"]
    assert result.success and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert "GX unavailable" in check.metadata["error"].value
    # The load itself went through; the verdicts say GX could not run.
    with duckdb.connect(str(home / "data/warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.orders_orders").fetchone() == (2,)
        errors = con.execute(
            "select distinct reconciled, success, error like 'GXUnavailable%' "
            "from raw.batch_validation"
        ).fetchall()
    assert errors == [(False, None, True)]


def test_check_fails_when_gx_and_sql_disagree(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    landing = tmp_path / "landing"
    put(landing, ORDERS, "orders.csv", ORDERS_H + orders(1, 2))
    results = loader.load_landing(con, landing, tmp_path / "rejected", [ORDERS])["orders_orders"]
    assert expectation_checks.contract_check(con, ORDERS, results).passed
    con.execute(
        "update raw.batch_validation set reconciled = false, "
        "error = 'GX counts 1 rows, SQL 0' where reason = 'negative:total_amount'"
    )
    check = expectation_checks.contract_check(con, ORDERS, results)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "GX counts 1 rows, SQL 0" in check.metadata["gx_sql_disagreements"].data[0]


# ------------------------------------------------------------------ CLI and run summary


def test_quarantine_cli_and_run_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path))
    paths = settings.paths().ensure()
    put(paths.landing, ORDERS, "orders.csv", ORDERS_H + order(1) + order(2, total="-3.50"))
    put(paths.landing, TICKETS, "tickets.csv", TICKETS_H + ticket(1, satisfaction="7"))
    with duckdb.connect(str(paths.warehouse)) as con:
        loader.load_landing(con, paths.landing, paths.rejected, [ORDERS, TICKETS])
    runner = CliRunner()
    listed = runner.invoke(cli, ["quarantine", "list", "--entity", "orders_orders"])
    assert listed.exit_code == 0, listed.output
    assert "orders/orders/orders.csv  row 2" in listed.output
    assert "negative:total_amount" in listed.output and "total_amount='-3.50'" in listed.output
    assert "satisfaction" not in listed.output
    limited = runner.invoke(cli, ["quarantine", "list", "--limit", "1"])
    assert limited.output.count("reasons:") == 1
    summary = runner.invoke(cli, ["quarantine", "summary"])
    assert summary.exit_code == 0
    assert [ln.split() for ln in summary.output.splitlines()[1:3]] == [
        ["orders.orders", "negative:total_amount", "1"],
        ["support.tickets", "range:satisfaction_score", "1"],
    ]
    bad = runner.invoke(cli, ["quarantine", "list", "--entity", "nope"])
    assert bad.exit_code != 0 and "unknown entity" in bad.output
    report = render(paths)
    assert "rows in quarantine: 2" in report
    assert any(
        ln.split() == ["support.tickets", "range:satisfaction_score", "1"]
        for ln in report.splitlines()
    )


# --------------------------------------------------------------------- dirty demo data


def test_dirty_demo_data_is_quarantined_as_generated_and_nothing_is_rejected(tmp_path):
    landing = tmp_path / "landing"
    counts = generate(
        landing, customers=400, days=150, end_date=date(2026, 10, 31), seed=5, dirty=0.01
    )
    manifest = json.loads((landing / "_truth" / "manifest.json").read_text())
    dirty = manifest["dirty_rows"]
    assert manifest["parameters"]["dirty"] == 0.01
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = loader.load_landing(con, landing, tmp_path / "rejected")
    assert {r.status for batch in results.values() for r in batch} == {"loaded"}
    for entity in ENTITIES:
        read = sum(r.rows_read for r in results[entity.table])
        assert read == counts[entity.table]
    held = {
        (e, r): n
        for e, r, n in con.execute(
            "select entity, reason, count(*) from (select entity, unnest(reasons) as reason "
            "from raw.quarantine) group by all"
        ).fetchall()
    }
    expected = {
        ("crm.customers", "missing:name"): dirty["crm_customers"]["blank_name"],
        ("crm.customers", "type:created_at"): dirty["crm_customers"]["impossible_date"],
        ("crm.customers", "allowed:acquisition_channel"): dirty["crm_customers"]["unknown_channel"],
        ("crm.customers", "future:updated_at"): dirty["crm_customers"]["future_date"],
        ("crm.activities", "allowed:activity_type"): dirty["crm_activities"]["unknown_type"],
        ("crm.activities", "type:occurred_at"): dirty["crm_activities"]["impossible_date"],
        ("crm.activities", "missing:customer_id"): dirty["crm_activities"]["blank_customer"],
        ("orders.orders", "negative:total_amount"): dirty["orders_orders"]["negative_amount"],
        ("orders.orders", "allowed:status"): dirty["orders_orders"]["unknown_status"],
        ("orders.orders", "future:updated_at"): dirty["orders_orders"]["future_date"],
        ("orders.orders", "type:ordered_at"): dirty["orders_orders"]["impossible_date"],
        ("orders.order_lines", "range:quantity"): dirty["orders_order_lines"]["zero_quantity"],
        ("orders.order_lines", "negative:unit_price"): dirty["orders_order_lines"][
            "negative_price"
        ],
        ("support.tickets", "order:opened_at_before_closed_at"): dirty["support_tickets"][
            "closed_early"
        ],
        ("support.tickets", "range:satisfaction_score"): dirty["support_tickets"]["satisfaction_7"],
        ("support.tickets", "allowed:status"): dirty["support_tickets"]["unknown_status"],
        ("support.tickets", "type:opened_at"): dirty["support_tickets"]["impossible_date"],
    }
    assert held == {k: n for k, n in expected.items() if n}
    total_rows = sum(counts.values())
    assert 0.003 * total_rows < sum(held.values()) < 0.02 * total_rows
    warned = dict(
        con.execute(
            "select reason, sum(unexpected_count) from raw.batch_validation "
            "where severity = 'warn' group by all"
        ).fetchall()
    )
    assert warned["format:email"] == dirty["crm_customers"]["malformed_email"]
    # Lines of an unknown order: those made so, and the lines of orders held back above.
    assert warned["unknown_order"] >= dirty["orders_order_lines"]["unknown_order"] > 0
    assert con.execute("select bool_and(reconciled) from raw.batch_validation").fetchone() == (
        True,
    )


def test_dirty_output_is_deterministic_and_zero_means_clean(tmp_path):
    kwargs = dict(customers=150, days=60, end_date=date(2026, 10, 31), seed=2)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, dirty=0.02, **kwargs)
    generate(b, dirty=0.02, **kwargs)
    generate(c, **kwargs)

    def files(root):
        return {
            p.relative_to(root): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and "_truth" not in p.parts
        }

    assert files(a) == files(b)
    assert files(a) != files(c)
    assert files(a).keys() == files(c).keys()
    with pytest.raises(ValueError):
        generate(tmp_path / "d", dirty=0.5, **kwargs)


def test_generate_and_demo_commands_take_dirty(tmp_path):
    out = tmp_path / "landing"
    done = CliRunner().invoke(
        cli, ["generate", "--customers", "60", "--days", "20", "--dirty", "0.02", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    manifest = json.loads((out / "_truth" / "manifest.json").read_text())
    assert manifest["parameters"]["dirty"] == 0.02 and "dirty_rows" in manifest
    demo = next(c for c in cli.commands.values() if c.name == "demo")
    assert {p.name: p.default for p in demo.params}["dirty"] == 0.005
    too_dirty = CliRunner().invoke(cli, ["generate", "--dirty", "0.5", "--out", str(out)])
    assert too_dirty.exit_code != 0


def test_gx_is_imported_in_the_background_once_the_loader_has_files(tmp_path, monkeypatch):
    # In a fresh interpreter: nothing imports GX until `prefetch`, which imports it on its own
    # thread, once.
    probe = (
        "import sys, threading\n"
        "from expectations import validate\n"
        "assert 'great_expectations' not in sys.modules\n"
        "validate.prefetch(); validate.prefetch()\n"
        "threads = [t for t in threading.enumerate() if t.name == 'gx-prefetch']\n"
        "assert len(threads) == 1, threads\n"
        "threads[0].join()\n"
        "assert 'great_expectations.data_context.types.base' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).parent.parent)
    # The loader starts it only when it has files to load and GX to run.
    calls = []
    monkeypatch.setattr(gx_validate, "prefetch", lambda: calls.append(1))
    landing = tmp_path / "landing"
    first = put(landing, ORDERS, "orders_1.csv", ORDERS_H + orders(1, 2))
    second = put(landing, ORDERS, "orders_2.csv", ORDERS_H + orders(3, 4))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        # Without GX, with GX, and with GX again on a file already loaded (nothing to load).
        for path, validate in ((first, False), (second, True), (second, True)):
            loader.load_files(
                con, ORDERS, [(path, path.name)], rejected=tmp_path / "rejected", validate=validate
            )
    assert calls == [1]
