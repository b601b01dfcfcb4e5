from tests.pgcluster import postgres_cluster  # noqa: F401  (session fixture)
