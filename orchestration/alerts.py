"""A failed run is logged and, when RETENTION_ALERT_WEBHOOK_URL is set, posted as JSON to it
(Slack, Mattermost and Teams incoming webhooks all accept a `text` field)."""

import json
import os
import urllib.request

import dagster as dg


def send_alert(url: str, payload: dict, timeout: float = 10.0) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


@dg.run_failure_sensor(
    name="retention_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run and posts it to RETENTION_ALERT_WEBHOOK_URL if set.",
)
def failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    text = (
        f"Retention run {run.run_id} of job {run.job_name} failed: {context.failure_event.message}"
    )
    context.log.error(text)
    url = os.environ.get("RETENTION_ALERT_WEBHOOK_URL")
    if url:
        send_alert(url, {"text": text, "run_id": run.run_id, "job": run.job_name})
