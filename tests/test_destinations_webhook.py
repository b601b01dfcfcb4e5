"""The `webhook` kind against a real HTTP server on 127.0.0.1 started by the test: batches,
retries with backoff, Idempotency-Key per batch, resumption after a failure, no secret leaks."""

from __future__ import annotations

import decimal
import hashlib
import json
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from destinations.sync import sync
from tests.destinations_support import (
    CONSENT_MIX,
    D2,
    MARKETING_IDS,
    customer,
    make_config,
    sync_log,
    warehouse,
    write_audience,
)

TOKEN = "tok-3f9a1c77-secret"
URL_SECRET = "hook-7d2e9b-secret-path"


class Receiver:
    """An HTTP endpoint on loopback that records every request; ``answer(n, request)`` gives
    the status of the n-th request (1-based). 2xx answers count as accepted."""

    def __init__(self, answer=lambda n, request: 200) -> None:
        self.answer = answer
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                request = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "json": json.loads(body),
                }
                with receiver.lock:
                    receiver.requests.append(request)
                    status = receiver.answer(len(receiver.requests), request)
                request["status"] = status
                # A careless server echoes what it got, secrets included.
                reply = json.dumps(
                    {"path": self.path, "auth": self.headers.get("Authorization")}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def accepted(self) -> list[dict]:
        return [r for r in self.requests if 200 <= r["status"] < 300]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def webhook(url, **options):
    return {
        "name": "esp",
        "kind": "webhook",
        "purpose": "marketing",
        "audiences": ["win_back"],
        "url": url,
        "batch_size": 2,
        "backoff_seconds": 0.01,
        **options,
    }


def key(run_id: str, destination: str, batch: int) -> str:
    return hashlib.sha256(f"{run_id}|{destination}|{batch}".encode()).hexdigest()


def test_batches_retry_after_a_failed_first_attempt_with_idempotency_keys(tmp_path, caplog):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    with Receiver(answer=lambda n, r: 503 if n == 1 else 200) as server:
        config = make_config(tmp_path, [webhook(f"{server.url}/audiences")])
        with caplog.at_level(logging.INFO):
            (result,) = sync(con, config)
    assert result.status == "success", result.error
    run = "win_back:2026-10-30"
    # 4 consented rows in batches of 2; the first request failed and was sent again.
    assert len(server.requests) == 3 and len(server.accepted) == 2
    keys = [r["headers"]["idempotency-key"] for r in server.requests]
    assert keys == [key(run, "esp", 1), key(run, "esp", 1), key(run, "esp", 2)]
    assert server.requests[0]["json"] == server.requests[1]["json"], "a re-send is identical"
    assert "retry 2/5" in caplog.text
    bodies = [r["json"] for r in server.accepted]
    assert [(b["batch_number"], b["batch_count"], b["mode"]) for b in bodies] == [
        (1, 2, "diff"),
        (2, 2, "diff"),
    ]
    records = [rec for b in bodies for rec in b["records"]]
    assert {r["customer_id"] for r in records} == MARKETING_IDS
    assert {(r["op"], r["change"]) for r in records} == {("upsert", "added")}
    ivan = next(r["data"] for r in records if r["customer_id"] == "C07")
    assert ivan["customer_name"] == "Иванов Иван" and ivan["priority_score"] == 0.5
    assert "is_control" not in ivan and "marketing_allowed" not in ivan
    assert result.details["batches_sent"] == 2

    # Same run id again: nothing is sent.
    with Receiver() as again:
        config = make_config(tmp_path, [webhook(f"{again.url}/audiences")])
        (rerun,) = sync(con, config)
    assert rerun.status == "already_delivered" and again.requests == []


def test_the_next_run_sends_exactly_the_changes(tmp_path):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A"), customer("B"), customer("C")])
    with Receiver() as server:
        config = make_config(tmp_path, [webhook(server.url, batch_size=10)])
        sync(con, config)
        write_audience(
            con,
            "win_back",
            [customer("A"), customer("B", recommended_action="call"), customer("D")],
            as_of=D2,
        )
        (result,) = sync(con, config)
    assert (result.rows_added, result.rows_changed, result.rows_removed) == (1, 1, 1)
    last = server.requests[-1]["json"]
    assert last["run_id"] == "win_back:2026-10-31"
    assert [(r["op"], r.get("change"), r["customer_id"]) for r in last["records"]] == [
        ("upsert", "changed", "B"),
        ("upsert", "added", "D"),
        ("remove", None, "C"),
    ]
    assert last["records"][0]["data"]["recommended_action"] == "call"
    assert last["records"][2] == {"op": "remove", "customer_id": "C"}, "no data of a leaver"


def test_after_a_failed_batch_a_rerun_sends_only_what_was_not_acknowledged(tmp_path):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer(f"C{i}") for i in range(1, 6)])  # 3 batches
    # Batch 2 keeps failing: the delivery fails after max_attempts and batch 3 is not sent.
    failing = Receiver(answer=lambda n, r: 500 if r["json"]["batch_number"] == 2 else 200)
    with failing as server:
        config = make_config(tmp_path, [webhook(server.url, max_attempts=3)])
        (result,) = sync(con, config)
    assert result.status == "failed"
    assert "HTTP 500" in result.error and "gave up after 3 attempts" in result.error
    assert [r["json"]["batch_number"] for r in server.requests] == [1, 2, 2, 2]
    assert result.rows_failed == 3  # batches 2 and 3
    assert con.execute("select count(*) from audiences.destination_state").fetchone()[0] == 0

    with Receiver() as healthy:
        config = make_config(tmp_path, [webhook(healthy.url, max_attempts=3)])
        (resumed,) = sync(con, config)
    assert resumed.status == "success"
    assert [r["json"]["batch_number"] for r in healthy.requests] == [2, 3]
    assert resumed.details["batches_already_acknowledged"] == 1
    accepted = Counter(
        r["headers"]["idempotency-key"] for r in [*server.accepted, *healthy.accepted]
    )
    assert sorted(accepted.values()) == [1, 1, 1], "each batch accepted exactly once"
    ids = [
        rec["customer_id"]
        for r in [*server.accepted, *healthy.accepted]
        for rec in r["json"]["records"]
    ]
    assert sorted(ids) == ["C1", "C2", "C3", "C4", "C5"]


def test_a_client_error_is_not_retried(tmp_path):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A")])
    with Receiver(answer=lambda n, r: 422) as server:
        (result,) = sync(con, make_config(tmp_path, [webhook(server.url)]))
    assert result.status == "failed" and "HTTP 422" in result.error
    assert len(server.requests) == 1


def test_connection_errors_are_retried_with_bounded_backoff(tmp_path, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A")])
    config = make_config(tmp_path, [webhook(f"http://127.0.0.1:{port}", max_attempts=3)])
    with caplog.at_level(logging.INFO):
        (result,) = sync(con, config)
    assert result.status == "failed" and "connection failed" in result.error
    assert caplog.text.count("retry ") == 2


def test_secrets_from_the_environment_never_reach_the_log(tmp_path, monkeypatch, caplog):
    con = warehouse(tmp_path)
    write_audience(con, "win_back", CONSENT_MIX)
    with Receiver(answer=lambda n, r: 400) as server:
        monkeypatch.setenv("RETENTION_TEST_HOOK_URL", f"{server.url}/{URL_SECRET}?sig=abcd1234")
        monkeypatch.setenv("RETENTION_TEST_HOOK_TOKEN", TOKEN)
        destination = webhook(None, url_env="RETENTION_TEST_HOOK_URL")
        del destination["url"]
        destination["token_env"] = "RETENTION_TEST_HOOK_TOKEN"
        config = make_config(tmp_path, [destination])
        with caplog.at_level(logging.DEBUG):
            (result,) = sync(con, config)
    assert result.status == "failed"
    # The secrets were really used …
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert URL_SECRET in server.requests[0]["path"]
    # … and the server echoed them back into the error, which was redacted.
    assert "***" in result.error
    port = server.server.server_address[1]
    assert result.location == f"http://127.0.0.1:{port}/… ($RETENTION_TEST_HOOK_URL)"
    stored = " ".join(str(v) for r in sync_log(con) for v in r.values())
    for text in (stored, caplog.text, result.error, result.location):
        assert TOKEN not in text and URL_SECRET not in text and "abcd1234" not in text


def test_unset_environment_skips_the_destination(tmp_path, monkeypatch):
    monkeypatch.delenv("RETENTION_TEST_HOOK_URL", raising=False)
    con = warehouse(tmp_path)
    write_audience(con, "win_back", [customer("A")])
    destination = webhook(None, url_env="RETENTION_TEST_HOOK_URL")
    del destination["url"]
    (result,) = sync(con, make_config(tmp_path, [destination]))
    assert result.status == "skipped"
    assert result.error == "environment variable RETENTION_TEST_HOOK_URL not set"


def test_full_mode_sends_every_row_and_says_so(tmp_path):
    con = warehouse(tmp_path)
    write_audience(
        con, "win_back", [customer("A"), customer("B", priority_score=decimal.Decimal(1))]
    )
    with Receiver() as server:
        config = make_config(tmp_path, [webhook(server.url, batch_size=10)])
        sync(con, config)
        (full,) = sync(con, config, full=True)
    body = server.requests[-1]["json"]
    assert body["mode"] == "full" and body["run_id"] == "win_back:2026-10-30:full"
    assert [(r["change"], r["customer_id"]) for r in body["records"]] == [
        ("unchanged", "A"),
        ("unchanged", "B"),
    ]
    assert full.status == "success"
