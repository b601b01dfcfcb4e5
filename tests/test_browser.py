"""The Dagster UI in a real browser: `dagster dev` on loopback, headless Chromium (Debian's
package) on the asset lineage page of an audience, which must show the path from a raw source
through staging and marts. Leaves a screenshot in artifacts/. Opt-in: `make test-browser`."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
LINEAGE_PAGE = (
    "/assets/audiences/audience_win_back?view=lineage&lineageScope=upstream&lineageDepth=12"
)
# One asset per layer on the way from a source to the audience.
EXPECTED_ON_PAGE = ("crm_customers", "stg_crm__customers", "customer_churn", "audience_win_back")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1800,1100",
    "--virtual-time-budget=25000",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_asset(base: str, name: str, seconds: float) -> None:
    """Until the code location has loaded and the asset graph knows `name`."""
    query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            request = urllib.request.Request(
                f"{base}/graphql", data=query, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                if name in response.read().decode():
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{name} did not appear in {base} within {seconds} s")


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.timeout(600)
def test_asset_graph_shows_lineage_from_source_to_audience(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-m",
            "orchestration.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_asset(base, "audience_win_back", 300)
        page = base + LINEAGE_PAGE
        dom = chromium("--dump-dom", page, profile=tmp_path / "profile-dom").stdout
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / "asset_lineage.png"
        chromium(f"--screenshot={screenshot}", page, profile=tmp_path / "profile-shot")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    missing = [name for name in EXPECTED_ON_PAGE if name not in dom]
    assert not missing, f"not on the lineage page: {missing}"
    assert screenshot.exists() and screenshot.stat().st_size > 10_000
