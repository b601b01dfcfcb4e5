"""``webhook``: POST the changes as JSON to an HTTP endpoint, in batches, safely re-sendable.

Each delivery sends the diff (``--full``: every current row) in batches of ``batch_size``
records (default 500), upserts first then removals, each by customer_id. A request body:

    {"destination": "...", "audience": "win_back", "run_id": "win_back:2026-10-31",
     "as_of_date": "2026-10-31", "mode": "diff", "batch_number": 1, "batch_count": 3,
     "records": [{"op": "upsert", "change": "added", "customer_id": "C1", "data": {...}},
                 {"op": "remove", "customer_id": "C9"}]}

Headers: ``Content-Type: application/json``, ``Idempotency-Key: sha256_hex(f"{run_id}|
{destination}|{batch_number}")`` (the same batch of the same run always carries the same key,
so a receiver recognises a re-send) and, with ``token_env``, ``Authorization: Bearer <token>``
(``auth_header``/``auth_scheme`` change the header). In full mode the batches together are the
whole audience: a receiver may replace its copy once ``batch_count`` batches arrived.

Retries: a 5xx, 408 or 429 answer, a refused/reset connection or a timeout is retried up to
``max_attempts`` (default 5) with exponential backoff ``backoff_seconds × 2^(attempt−1)``
(default 1 s, capped at ``max_backoff_seconds``, 30 s; a numeric ``Retry-After`` is honoured
up to that cap). Any other answer fails the delivery at once. Every acknowledged (2xx) batch is
recorded in ``audiences.destination_batches``; a re-run of the same run id skips those batches
and refuses to send *different* content under an already used key.

The URL is ``url`` (plain, when it holds no secret) or read from the environment variable
named by ``url_env``; only ``scheme://host:port`` of an env URL is ever logged.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, ClassVar

from destinations import state
from destinations.kinds.base import Kind, Outcome, Plan
from destinations.rows import jsonable

RETRY_STATUS = {408, 429, 500, 502, 503, 504}
USER_AGENT = "retention-platform-destinations/1"


class WebhookError(RuntimeError):
    def __init__(self, message: str, rows_failed: int = 0) -> None:
        super().__init__(message)
        self.rows_failed = rows_failed


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def idempotency_key(run_id: str, destination: str, batch_number: int) -> str:
    return hashlib.sha256(f"{run_id}|{destination}|{batch_number}".encode()).hexdigest()


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookKind(Kind):
    name = "webhook"
    options: ClassVar[frozenset[str]] = frozenset(
        {
            "url",
            "url_env",
            "token_env",
            "auth_header",
            "auth_scheme",
            "batch_size",
            "max_attempts",
            "backoff_seconds",
            "max_backoff_seconds",
            "timeout_seconds",
        }
    )
    optional_env: ClassVar[frozenset[str]] = frozenset({"url_env", "token_env"})
    dagster_kinds: ClassVar[frozenset[str]] = frozenset({"api", "python"})

    @classmethod
    def validate(cls, purpose, options) -> None:
        super().validate(purpose, options)
        if ("url" in options) == ("url_env" in options):
            raise ValueError("give exactly one of url or url_env")
        if "url" in options:
            parsed = urllib.parse.urlsplit(str(options["url"]))
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError("url must be an http(s) URL")
            if parsed.password or parsed.query:
                raise ValueError("url holds credentials or a query: put it in url_env")
        checks = {
            "batch_size": (int, 1, 10_000),
            "max_attempts": (int, 1, 10),
            "backoff_seconds": ((int, float), 0, 60),
            "max_backoff_seconds": ((int, float), 0, 600),
            "timeout_seconds": ((int, float), 0.1, 600),
        }
        for option, (typ, low, high) in checks.items():
            if option in options:
                value = options[option]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, typ)
                    or not low <= value <= high
                ):
                    raise ValueError(f"{option} must be a number from {low} to {high}")

    def _option(self, name: str, default: Any) -> Any:
        return self.destination.options.get(name, default)

    def url(self) -> str | None:
        if "url" in self.destination.options:
            return str(self.destination.options["url"])
        return self.destination.secret("url_env")

    def location(self) -> str:
        url = self.url()
        if not url:
            return f"(${self.destination.options.get('url_env')} unset)"
        parsed = urllib.parse.urlsplit(url)
        netloc = parsed.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parsed.port:
            netloc += f":{parsed.port}"
        if "url_env" in self.destination.options:
            return f"{parsed.scheme}://{netloc}/… (${self.destination.options['url_env']})"
        return f"{parsed.scheme}://{netloc}{parsed.path}"

    def records(self, plan: Plan) -> list[dict[str, Any]]:
        change_of = {c.customer_id: c.change for c in (*plan.added, *plan.changed)}
        upserts = [
            {
                "op": "upsert",
                "change": change_of.get(cid, "unchanged"),
                "customer_id": cid,
                "data": jsonable(row),
            }
            for cid, row in plan.upserts
        ]
        removes = [
            {"op": "remove", "customer_id": c.customer_id}
            for c in sorted(plan.removed, key=lambda c: c.customer_id)
        ]
        return upserts + removes

    def deliver(self, plan: Plan) -> Outcome:
        url = self.url()
        if not url:
            raise WebhookError("webhook URL is not set")
        records = self.records(plan)
        size = int(self._option("batch_size", 500))
        batches = [records[i : i + size] for i in range(0, len(records), size)]
        if not batches and plan.mode == "full":
            batches = [[]]  # a full delivery of an empty audience still says so
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        token = self.destination.secret("token_env")
        if token:
            scheme = self._option("auth_scheme", "Bearer")
            headers[self._option("auth_header", "Authorization")] = (
                f"{scheme} {token}" if scheme else token
            )
        host = urllib.parse.urlsplit(url).hostname
        opener = (
            urllib.request.build_opener(urllib.request.ProxyHandler({}))
            if _is_loopback(host)
            else urllib.request.build_opener()
        )
        sent = skipped = delivered_records = 0
        for number, batch in enumerate(batches, start=1):
            payload = {
                "destination": self.destination.name,
                "audience": plan.audience,
                "run_id": plan.run_id,
                "as_of_date": jsonable(plan.as_of_date),
                "mode": plan.mode,
                "batch_number": number,
                "batch_count": len(batches),
                "records": batch,
            }
            body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
            digest = hashlib.sha256(body).hexdigest()
            key = idempotency_key(plan.run_id, self.destination.name, number)
            done = state.acknowledged_batch(
                plan.con, self.destination.name, plan.audience, plan.run_id, number
            )
            if done is not None:
                if done != (key, digest):
                    raise WebhookError(
                        f"batch {number} of run {plan.run_id} was already delivered with other "
                        "content; re-send under a new run tag (--run-tag)",
                        rows_failed=len(records) - delivered_records,
                    )
                skipped += 1
                delivered_records += len(batch)
                continue
            try:
                self._post(opener, url, body, {**headers, "Idempotency-Key": key}, plan)
            except WebhookError as exc:
                exc.rows_failed = len(records) - delivered_records
                raise
            state.record_batch(
                plan.con,
                self.destination.name,
                plan.audience,
                plan.run_id,
                number,
                key,
                digest,
                len(batch),
            )
            sent += 1
            delivered_records += len(batch)
        return Outcome(
            location=self.location(),
            details={
                "batches": len(batches),
                "batches_sent": sent,
                "batches_already_acknowledged": skipped,
                "records": len(records),
            },
        )

    def _post(self, opener, url: str, body: bytes, headers: dict[str, str], plan: Plan) -> None:
        attempts = int(self._option("max_attempts", 5))
        base = float(self._option("backoff_seconds", 1.0))
        cap = float(self._option("max_backoff_seconds", 30.0))
        timeout = float(self._option("timeout_seconds", 30.0))
        label = self.location()
        for attempt in range(1, attempts + 1):
            try:
                self._post_once(opener, url, body, headers, timeout, label)
                return
            except _Retryable as exc:
                if attempt == attempts:
                    raise WebhookError(
                        f"{label}: {exc} (gave up after {attempt} attempts)"
                    ) from None
                delay = min(cap, base * 2 ** (attempt - 1))
                if exc.retry_after is not None:
                    delay = max(delay, min(cap, exc.retry_after))
                if plan.log is not None:
                    plan.log.warning(
                        f"{self.destination.name}/{plan.audience}: {exc}; retry {attempt + 1}"
                        f"/{attempts} in {delay:.2f}s"
                    )
                time.sleep(delay)

    @staticmethod
    def _post_once(opener, url, body, headers, timeout, label) -> None:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(1 << 16)
                if 200 <= response.status < 300:
                    return
                status, reason, retry_after = response.status, response.reason, None
        except urllib.error.HTTPError as exc:
            status, reason = exc.code, exc.reason
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            try:
                snippet = exc.read(300).decode("utf-8", errors="replace").strip()
            except Exception:
                snippet = ""
            reason = f"{reason}: {snippet}" if snippet else reason
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            cause = getattr(exc, "reason", exc)
            raise _Retryable(f"connection failed ({type(cause).__name__}: {cause})") from None
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:
            wait = None
        if status in RETRY_STATUS:
            raise _Retryable(f"HTTP {status} {reason}", wait)
        raise WebhookError(f"{label}: HTTP {status} {reason}")
