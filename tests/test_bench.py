"""The benchmark harness: its arithmetic (fast), and one whole run at a tiny scale (slow: about
two minutes, since even 500 customers make ~4 400 daily files and ~590 dbt nodes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from bench import compare, dbt_layers, harness, report, rss, worlds
from ingestion.contract import ENTITIES

PHASE_PARTS = ("ingest", "validate", "dbt_build", "clv_holdout", "deliver_files", "publish_bi")
DBT_PARTS = (*(f"dbt.{layer}" for layer in dbt_layers.LAYERS), "dbt.overhead")


def test_overlapping_nodes_share_the_wall_time():
    shares = dbt_layers.attribute({"a": (0.0, 4.0), "b": (2.0, 6.0), "c": (10.0, 11.0)})
    # 0-2 a alone, 2-4 shared, 4-6 b alone, 6-10 idle, 10-11 c alone.
    assert shares == pytest.approx({"a": 3.0, "b": 3.0, "c": 1.0})
    assert sum(shares.values()) == pytest.approx(7.0)  # busy time, never more than the wall


def test_tests_count_with_the_layer_they_test():
    manifest = {
        "nodes": {
            "model.r.stg_a": {
                "resource_type": "model",
                "name": "stg_a",
                "fqn": ["r", "staging", "x", "stg_a"],
            },
            "model.r.customer_clv_predictions": {
                "resource_type": "model",
                "name": "customer_clv_predictions",
                "fqn": ["r", "marts", "value", "customer_clv_predictions"],
            },
            "seed.r.s": {"resource_type": "seed", "name": "s", "fqn": ["r", "s"]},
            "test.r.t1": {"resource_type": "test", "attached_node": "model.r.stg_a"},
            "test.r.t2": {
                "resource_type": "test",
                "attached_node": None,
                "depends_on": {"nodes": ["model.r.customer_clv_predictions"]},
            },
        },
        "unit_tests": {
            "unit_test.r.u": {
                "resource_type": "unit_test",
                "depends_on": {"nodes": ["model.r.stg_a"]},
            }
        },
    }
    layers = {
        uid: dbt_layers.layer_of(uid, manifest) for uid in [*manifest["nodes"], "unit_test.r.u"]
    }
    assert layers == {
        "model.r.stg_a": "staging",
        "model.r.customer_clv_predictions": "clv_model",
        "seed.r.s": "seeds",
        "test.r.t1": "staging",
        "test.r.t2": "marts",
        "unit_test.r.u": "staging",
    }


def test_summary_splits_busy_time_by_resource_type_and_names_the_slowest_nodes():
    def result(uid, start, end, execution):
        stamp = "2026-01-01T00:00:{:06.3f}+00:00"
        return {
            "unique_id": uid,
            "status": "success",
            "execution_time": execution,
            "timing": [{"started_at": stamp.format(start), "completed_at": stamp.format(end)}],
        }

    manifest = {
        "nodes": {
            "model.r.big": {"resource_type": "model", "name": "big", "fqn": ["r", "marts", "big"]},
            "test.r.unique_big": {"resource_type": "test", "attached_node": "model.r.big"},
        },
        "unit_tests": {
            "unit_test.r.big.by_hand": {
                "resource_type": "unit_test",
                "depends_on": {"nodes": ["model.r.big"]},
            }
        },
    }
    # 0-4 the model alone; 4-6 the test and the unit test together; 6-7 the test alone.
    run_results = {
        "results": [
            result("model.r.big", 0, 4, 3.9),
            result("test.r.unique_big", 4, 7, 2.8),
            result("unit_test.r.big.by_hand", 4, 6, 1.9),
        ]
    }
    base = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    summary = dbt_layers.summarise(run_results, manifest, base - 1, base + 8)
    assert summary["by_kind"] == {
        "model": {"seconds": pytest.approx(4.0), "nodes": 1},
        "test": {"seconds": pytest.approx(2.0), "nodes": 1},
        "unit_test": {"seconds": pytest.approx(1.0), "nodes": 1},
    }
    assert [(n["node"], n["kind"], n["execution_seconds"]) for n in summary["slowest"]] == [
        ("big", "model", 3.9),
        ("unique_big", "test", 2.8),
        ("big.by_hand", "unit_test", 1.9),
    ]
    assert [n["seconds"] for n in summary["slowest"]] == pytest.approx([4.0, 2.0, 1.0])
    assert summary["problems"] == []

    # A failed test names what ran beside it (the unit test from 4 to 6, not the model).
    run_results["results"][1] |= {"status": "error", "message": "Out of Memory Error"}
    failed = dbt_layers.summarise(run_results, manifest, base - 1, base + 8)["problems"]
    assert failed == [
        {
            "node": "test.r.unique_big",
            "status": "error",
            "message": "Out of Memory Error",
            "running_beside": ["unit_test.r.big.by_hand"],
        }
    ]


def test_tree_memory_counts_children_apart_from_the_root():
    # A child holding 200 MiB of written pages: in the tree's total, not in the root's own.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; b = b'x' * (200 << 20); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        total, root = rss.tree_rss(os.getpid())
        assert total - root >= 200 << 20
        assert root < total
    finally:
        child.communicate("")


def test_a_stage_says_how_many_cores_it_kept_busy():
    from bench.run import Stages

    with rss.TreeMemory() as memory:
        stages = Stages(memory)
        with stages("idle"):
            time.sleep(0.3)
        # A child spinning one core for 0.5 s while this process waits for it.
        with stages("spin"):
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import time\nt = time.process_time()\n"
                    "while time.process_time() - t < 0.5: pass",
                ],
                check=True,
            )
    assert stages.records["idle"]["cores_busy"] < 0.2
    assert 0.7 < stages.records["spin"]["cores_busy"] < 1.2
    assert stages.records["spin"]["cpu_seconds"] >= 0.5


def test_aggregate_takes_medians_and_the_peak():
    runs = [
        {"stages": {"full": {"seconds": s, "peak_rss_bytes": m, "rows": 10}}}
        for s, m in ((3.0, 100), (1.0, 300), (2.0, 200))
    ]
    stage = harness.aggregate(runs)["full"]
    assert stage["median_seconds"] == 2.0
    assert stage["repeats_seconds"] == [3.0, 1.0, 2.0]
    assert stage["peak_rss_bytes"] == 300
    assert stage["rows_per_second"] == 5.0


def test_a_flag_raised_in_any_repeat_stays_raised():
    flags = (False, True, False)
    runs = [{"stages": {"b": {"seconds": 1.0, "parsed_whole_project": f}}} for f in flags]
    assert harness.aggregate(runs)["b"]["parsed_whole_project"] is True
    assert harness.aggregate(runs[:1])["b"]["parsed_whole_project"] is False


def test_a_stage_only_the_first_repeat_measured_is_its_own_figure():
    runs = [
        {"stages": {"full": {"seconds": s}} | extra}
        for s, extra in (
            (3.0, {"csv.ingest.orders_orders": {"seconds": 7.0, "rows": 14}}),
            (1.0, {}),
            (2.0, {}),
        )
    ]
    stages = harness.aggregate(runs)
    assert stages["full"]["median_seconds"] == 2.0
    csv = stages["csv.ingest.orders_orders"]
    assert (csv["median_seconds"], csv["repeats_seconds"]) == (7.0, [7.0])
    assert csv["rows_per_second"] == 2.0


def test_read_through_reads_the_history_of_the_sources_asked(tmp_path):
    world = worlds.World(tmp_path, {"end_date": "2026-10-31"}, {}, 0.0, True)
    sizes = {"orders/orders/orders_2026-10-30.csv": 5, "orders/orders/orders_2026-10-31.csv": 7}
    sizes |= {"crm/customers/customers_2026-10-30.csv": 11}
    for name, size in sizes.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
    # The history only (not the increment day, 2026-10-31), of orders only.
    assert world.read_through(sources=("orders",)) == 5


@pytest.mark.slow
def test_tiny_benchmark_reports_every_stage(tmp_path):
    path = harness.run_benchmark(
        0.005,
        repeats=1,
        warmups=1,
        cache_root=tmp_path / "cache",
        results_dir=tmp_path / "results",
        echo=lambda *_: None,
    )
    data = json.loads(path.read_text())
    stages = data["stages"]
    tables = [e.table for e in ENTITIES]
    expected = [
        *(f"{phase}.{part}" for phase in ("full", "increment") for part in PHASE_PARTS),
        "full.between",
        "increment.between",
        *(f"{phase}.{part}" for phase in ("full", "increment") for part in DBT_PARTS),
        *(f"{phase}.ingest.{t}" for phase in ("full", "increment") for t in tables),
        "full.model_fit",
        "full",
        "increment",
        "csv.ingest.orders_orders",
        "csv.ingest.orders_order_lines",
    ]
    assert not [name for name in expected if name not in stages]
    for name, stage in stages.items():
        if stage.get("available") is False:
            assert stage["reason"], name
            continue
        assert stage["median_seconds"] >= 0, name
        assert all(s >= 0 for s in stage["repeats_seconds"]), name
    for name in ("full", "increment", "full.ingest", "full.dbt_build", "full.publish_bi"):
        assert stages[name]["median_seconds"] > 0, name
    assert stages["full.ingest"]["rows_per_second"] > 0
    assert stages["full.model_fit"]["customers"] > 0
    # The warm-up's figures are kept apart, never among the repeats'.
    assert [w["seconds"] > 0 for w in data["warmups"]] == [True]
    # Only the warm-up parsed the whole dbt project; the repeats reused its parse.
    assert [w["parsed_whole_project"] for w in data["warmups"]] == [True]
    assert stages["full.dbt_build"]["parsed_whole_project"] is False
    assert stages["increment.dbt_build"]["parsed_whole_project"] is False
    assert not [name for name in stages if name.startswith("warm_up")]

    def repeat(name: str, i: int) -> float:
        stage = stages[name]
        return 0.0 if stage.get("available") is False else stage["repeats_seconds"][i]

    for i in range(data["parameters"]["repeats"]):
        for phase in ("full", "increment"):
            parts = sum(repeat(f"{phase}.{p}", i) for p in PHASE_PARTS)
            # The time between the stages is its own row: the rows add up to the whole.
            assert repeat(phase, i) == pytest.approx(parts + repeat(f"{phase}.between", i))
            loads = sum(repeat(f"{phase}.ingest.{t}", i) for t in tables)
            assert repeat(f"{phase}.ingest", i) >= loads
            layers = sum(repeat(f"{phase}.{p}", i) for p in DBT_PARTS)
            assert repeat(f"{phase}.dbt_build", i) == pytest.approx(layers, rel=0.01, abs=0.05)

    # Every generated row is read exactly once: the history by the build, the day after by
    # the increment.
    generated = sum(data["data"]["generated_rows"].values())
    assert stages["full.ingest"]["rows"] + stages["increment.ingest"]["rows"] == generated
    assert 0 < data["increment"]["rows"] < stages["full.ingest"]["rows"]

    peak = data["peak_rss_bytes"]
    assert peak["whole_run"] >= max(peak["full"], peak["increment"]) > 0
    assert data["machine"]["cores"] and data["machine"]["versions"]["duckdb"]
    assert {t["status"] for t in data["targets"]} <= {
        "met",
        "not met",
        "not applicable at this SF",
        "not available",
    }
    assert len(data["targets"]) == 6
    rendered = path.with_suffix(".md").read_text()
    assert "| **whole** |" in rendered
    assert "- dbt parse: partial in the full build, partial in the increment" in rendered
    assert "- no previous result at this SF to compare with" in rendered
    assert "| 0.005 |" in (tmp_path / "results" / "README.md").read_text()


def sf10_targets(**fits) -> dict[str, dict]:
    """Targets of an SF 10 run with 900 000 customers fitted, the fits as given (seconds)."""
    seconds = {"full": 400.0, "increment": 100.0, "full.validate": 30.0, "full.dbt_build": 150.0}
    seconds |= {f"{phase}.model_fit": value for phase, value in fits.items()}
    stages = {name: {"median_seconds": value} for name, value in seconds.items()}
    targets = harness.evaluate_targets(10.0, stages, 3 << 30, 900_000, {})
    return {t["target"]: t for t in targets}


def test_growth_pairs_only_results_from_this_machine():
    """SF 1 from a laptop and SF 10 from this machine make no growth figure."""
    here = result(full=50)
    laptop = result(machine=MACHINE | {"cores_usable": 8, "ram_bytes": 16 << 30}, full=20)
    latest = {0.1: laptop, 1.0: here, 10.0: result(full=300)}
    assert harness.other_results(latest, 10.0, MACHINE) == {1.0: here}
    assert harness.other_results(latest, 10.0, laptop["machine"]) == {0.1: laptop}
    seconds = {"full": 400.0, "increment": 100.0, "full.validate": 30.0, "full.dbt_build": 150.0}
    stages = {name: {"median_seconds": value} for name, value in seconds.items()}
    growth = {
        t["target"]: t
        for t in harness.evaluate_targets(
            10.0, stages, 3 << 30, None, harness.other_results(latest, 10.0, MACHINE)
        )
    }["growth close to linear SF 1 → 10 (full build per SF unit at most 1.25× SF 1's)"]
    assert growth["measured"] == 400.0 / (10 * 50)


def test_the_model_fit_is_projected_per_customer_fitted():
    # 900 000 customers fitted in 9.9 s: 11.0 s for a million, over the 10 s target.
    targets = sf10_targets(full=9.9)
    fit = targets["model fit on 1M customers ≤ 10 s"]
    assert fit["status"] == "not applicable at this SF"
    assert (fit["projected_to"], fit["projected_status"]) == ("1M customers", "not met")
    assert fit["linear_projection"] == pytest.approx(11.0)
    assert targets["validation ≤ 30 % of the transform time"]["measured"] == pytest.approx(0.2)


def test_the_fit_is_judged_on_the_build_where_it_ran_least_shared():
    # Full build 9.9 s (beside other nodes), increment 4.5 s for the same 900 000 customers:
    # 5.0 s for a million.
    fit = sf10_targets(full=9.9, increment=4.5)["model fit on 1M customers ≤ 10 s"]
    assert fit["measured"] == pytest.approx(4.5)
    assert (fit["linear_projection"], fit["projected_status"]) == (pytest.approx(5.0), "met")


MACHINE = {"cpu_model": "AMD EPYC", "cores_usable": 2, "ram_bytes": 24 << 30}


def result(machine=MACHINE, **seconds) -> dict:
    stages = {name.replace("__", "."): {"median_seconds": s} for name, s in seconds.items()}
    return {"date": "2026-11-23", "git": {"commit": "abc1234def"}, "machine": machine} | {
        "stages": stages,
        "file": "2026-11-23-sf1.json",
    }


def test_a_run_names_the_stages_slower_than_the_previous_result_beyond_the_noise():
    before = result(
        full=100,
        increment=40,
        full__ingest=10,
        full__publish_bi=2.0,
        increment__deliver_files=0.5,
        full__validate=8,
    )
    now = result(
        full=120,
        increment=52,
        full__ingest=13,
        full__publish_bi=2.9,
        increment__deliver_files=1.6,
        csv__ingest=5,
    )
    previous = compare.compare(before, now)
    # full +20 % (within the noise); increment +30 %, +12 s; ingestion +30 %, +3 s; the BI copy
    # +45 % but only +0.9 s; delivery +220 %, +1.1 s. GX and the CSV variant are in one only.
    assert previous["slower"] == ["increment", "full.ingest", "increment.deliver_files"]
    changes = {r["stage"]: r["change"] for r in previous["stages"]}
    assert changes == pytest.approx(
        {
            "full": 0.2,
            "increment": 0.3,
            "full.ingest": 0.3,
            "full.publish_bi": 0.45,
            "increment.deliver_files": 2.2,
        }
    )
    summary = report.comparison_summary(previous)
    assert summary[0] == (
        "against the previous result, 2026-11-23-sf1.json (commit abc1234): "
        "full build 100.0 → 120.0 s, +20%; one-day increment 40.0 → 52.0 s, +30%"
    )
    assert summary[1].startswith("slower beyond the noise (+25% and +1 s): one-day increment")
    assert "delivery to files (increment) 0.5 → 1.6 s, +220%" in summary[1]


def test_a_flag_against_a_single_run_asks_for_another_run_first():
    def run(repeats, full):
        return result(full=full) | {"parameters": {"repeats": repeats}}

    flagged = "full build 100.0 → 130.0 s, +30%"
    single = report.comparison_summary(compare.compare(run(1, 100), run(3, 130)))[1]
    assert single.endswith(
        flagged + " (a single run on one side or both: run it again before blaming a change)"
    )
    medians = report.comparison_summary(compare.compare(run(3, 100), run(3, 130)))[1]
    assert medians.endswith(flagged)
    # Nothing flagged, nothing to confirm.
    assert report.comparison_summary(compare.compare(run(1, 100), run(1, 101)))[1].endswith("none")


def test_results_from_another_machine_or_none_are_not_compared():
    elsewhere = result(machine=MACHINE | {"cores_usable": 8}, full=10)
    previous = compare.compare(elsewhere, result(full=100))
    assert (previous["same_machine"], previous["stages"], previous["slower"]) == (False, [], [])
    assert "ran on another machine: not compared" in report.comparison_summary(previous)[0]
    bigger = result(machine=MACHINE | {"ram_bytes": 32 << 30}, full=10)
    assert not compare.compare(bigger, result(full=100))["same_machine"]
    assert compare.compare(None, result(full=100)) is None


def test_the_same_machine_after_a_reboot_is_compared():
    """The kernel reports a few KiB more or less memory from one boot to the next."""
    rebooted = result(machine=MACHINE | {"ram_bytes": (24 << 30) - 12_288}, full=100)
    previous = compare.compare(rebooted, result(full=130))
    assert previous["same_machine"]
    assert [r["stage"] for r in previous["stages"]][:1] == ["full"]
