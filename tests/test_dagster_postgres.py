"""The production instance configuration: Dagster's run, event and schedule storage in a real
PostgreSQL (a throwaway cluster), configured exactly as dagster.yaml documents it."""

import re
from pathlib import Path

import dagster as dg
import pytest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent


def documented_postgres_storage() -> str:
    """The commented `storage: postgres` block of dagster.yaml, uncommented."""
    text = (ROOT / "dagster.yaml").read_text(encoding="utf-8")
    block = re.search(r"^# storage:\n(?:^#  .*\n)+", text, re.M)
    assert block, "dagster.yaml documents PostgreSQL storage"
    return "\n".join(line[2:] for line in block.group(0).splitlines()) + "\n"


@dg.asset
def heartbeat() -> int:
    return 1


def test_instance_runs_on_postgresql_storage(postgres_cluster, tmp_path, monkeypatch):
    postgres_cluster.create_database("dagster")
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres_cluster.port))
    monkeypatch.setenv("DAGSTER_PG_USER", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", "dagster")
    (tmp_path / "dagster.yaml").write_text(documented_postgres_storage(), encoding="utf-8")

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        result = dg.materialize([heartbeat], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None

    # The run is in PostgreSQL, not in a local file.
    with postgres_cluster.connect("dagster") as pg:
        runs = pg.execute("select run_id from runs").fetchall()
        materialisations = pg.execute(
            "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'"
        ).fetchone()[0]
    assert (result.run_id,) in runs
    assert materialisations == 1
    assert not list(tmp_path.glob("**/*.db"))
