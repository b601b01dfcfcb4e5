import pytest

from tests.pgcluster import postgres_cluster  # noqa: F401


@pytest.fixture(autouse=True)
def hermetic_paths(tmp_path_factory, monkeypatch):
    """Every test gets its own RETENTION_HOME and no inherited path overrides, so nothing a
    test does can reach a user's landing folder, warehouse or Dagster history (`make test`
    runs in the project, whose Makefile exports RETENTION_HOME and DAGSTER_HOME)."""
    monkeypatch.setenv("RETENTION_HOME", str(tmp_path_factory.mktemp("retention_home")))
    for name in (
        "RETENTION_DATA_DIR",
        "RETENTION_LANDING_DIR",
        "RETENTION_REJECTED_DIR",
        "RETENTION_WAREHOUSE",
        "RETENTION_WORK_DIR",
        "RETENTION_EXPORT_DIR",
        "RETENTION_CRM_POSTGRES_DSN",
        "RETENTION_DESTINATIONS_FILE",
        "RETENTION_CRM_EXPORT_DSN",
        "RETENTION_ESP_WEBHOOK_URL",
        "RETENTION_ESP_WEBHOOK_TOKEN",
        "DAGSTER_HOME",
        "RETENTION_DUCKDB_THREADS",
        "RETENTION_DUCKDB_MEMORY_LIMIT",
        "RETENTION_DUCKDB_TEMP_DIRECTORY",
        "RETENTION_PARTITIONS_START",
    ):
        monkeypatch.delenv(name, raising=False)
