"""`constraints: [{type: not_null}]` in a model's YAML is checked by its `not_null_constraints`
test: one query and one dbt node per model, naming each column that holds nulls."""

import json

import duckdb

from tests.dbt_helpers import DBT_PROJECT, run_dbt


def _not_null_columns(node: dict) -> set[str]:
    return {
        name
        for name, column in node["columns"].items()
        if any(c["type"] == "not_null" for c in column["constraints"])
    }


def test_every_declared_not_null_column_is_checked():
    manifest = json.loads((DBT_PROJECT / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"]
    checked = {
        n["attached_node"]
        for n in nodes.values()
        if (n.get("test_metadata") or {}).get("name") == "not_null_constraints"
    }
    constrained = {
        uid
        for uid, n in nodes.items()
        if n["resource_type"] in ("model", "seed") and _not_null_columns(n)
    }
    assert constrained, "no column declares a not_null constraint"
    assert constrained - checked == set(), "declared not null but never checked"
    assert checked - constrained == set(), "a not_null_constraints test with nothing to check"


def test_nulls_fail_the_check_column_by_column(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    run_dbt(["seed", "--select", "abc_classes"], warehouse, tmp_path)
    select = ["--select", "test_name:not_null_constraints,abc_classes", "--store-failures"]
    run_dbt(["test", *select], warehouse, tmp_path)  # the seed as shipped passes

    # Seed rows A, B, C: two nulls in one declared column, one in the other; `description`
    # declares none, so its null is no failure.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update reference.abc_classes set cumulative_revenue_share_upper = null "
            "where abc_class in ('B', 'C')"
        )
        con.execute("update reference.abc_classes set abc_class = null where abc_class = 'A'")
        con.execute("update reference.abc_classes set description = null")

    failed = run_dbt(["test", *select], warehouse, tmp_path, check=False)
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "Got 2 results" in failed.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (table,) = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name like 'not_null_constraints_abc_classes%'"
        ).fetchone()
        rows = con.execute(f"select column_name, null_rows from {table}").fetchall()
    assert sorted(rows) == [("abc_class", 1), ("cumulative_revenue_share_upper", 2)]
