"""The last step of the data's path: audiences → destinations.

Destinations are declared in ``destinations.yml`` (see :mod:`destinations.config`); each
delivery is consented (:mod:`destinations.consent`), diffed against what the destination last
received, retried, logged in ``audiences.sync_log`` and never sent twice for one run id
(:mod:`destinations.sync`). Kinds: ``files``, ``postgresql``, ``webhook``,
``google_ads_customer_match``, ``meta_custom_audience`` (:mod:`destinations.kinds`).

    import duckdb
    from destinations import load_config, sync

    with duckdb.connect("data/warehouse.duckdb") as con:
        for result in sync(con, load_config(), audiences=["win_back"]):
            print(result.destination, result.status, result.rows_added)
"""

from destinations.config import Config, ConfigError, Destination, export_dir, load_config
from destinations.identifiers import normalize_email, normalize_phone, sha256_hex
from destinations.rows import audience_sizes
from destinations.state import SyncResult, recent_log
from destinations.sync import compose_run_id, sync, sync_one

__all__ = [
    "Config",
    "ConfigError",
    "Destination",
    "SyncResult",
    "audience_sizes",
    "compose_run_id",
    "export_dir",
    "load_config",
    "normalize_email",
    "normalize_phone",
    "recent_log",
    "sha256_hex",
    "sync",
    "sync_one",
]
