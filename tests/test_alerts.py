"""A failed run reaches the alert webhook (a local server the test starts)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg

from orchestration.alerts import failure_alert


@dg.asset
def always_fails() -> None:
    raise RuntimeError("export truncated")


def test_failed_run_is_posted_to_the_webhook(monkeypatch):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RETENTION_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/")
    try:
        instance = dg.DagsterInstance.ephemeral()
        result = dg.materialize([always_fails], instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="retention_failure_alert",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
        ).for_run_failure()
        failure_alert(context)
    finally:
        server.shutdown()
    assert len(received) == 1
    assert received[0]["run_id"] == result.run_id
    assert "failed" in received[0]["text"]
