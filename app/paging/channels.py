"""Paging channels behind one small interface: webhook (an SMS or voice gateway), log, and a fake for tests."""

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from app import clock

log = logging.getLogger("mashang.paging")
TIMEOUT_SECONDS = 10.0
MAX_CONNECTIONS = 64  # at least the sender's threads


@dataclass(frozen=True)
class Outgoing:
    id: str
    channel: str
    payload: str
    attempt: int
    endpoint: str | None = None  # Web Push: the subscription


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    retry_after_seconds: float | None = None
    gone: bool = False  # the endpoint no longer exists (Web Push 404/410): stop trying it


class Channel(Protocol):
    """A channel may also have send_many(list[Outgoing]) -> list[DeliveryResult]: it is then given the round's
    notifications at once, in the sender's thread (the log: no network, and the pool's hand-off per item cost
    more than the send). Without it, each send runs in the sender's thread pool."""

    name: str

    def send(self, outgoing: Outgoing) -> DeliveryResult: ...


def signature(secret: str | None, body: bytes) -> str:
    """The X-Mashang-Signature value: HMAC-SHA256 of the raw body."""
    digest = hmac.new((secret or "").encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


class WebhookChannel:
    """POSTs the contract's JSON to MASHANG_PAGER_WEBHOOK_URL, signed, the same bytes on every attempt."""

    name = "webhook"

    def __init__(self, url: str, secret: str | None) -> None:
        self.url, self.secret = url, secret
        # One client for the process, shared by the sender's threads: every thread keeps its connection alive
        # (httpx keeps only 20 idle by default, so a busier pool would reconnect on most calls).
        self._client = httpx.Client(timeout=TIMEOUT_SECONDS, limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS))

    def send(self, outgoing: Outgoing) -> DeliveryResult:
        body = outgoing.payload.encode()
        headers = {"Content-Type": "application/json", "X-Mashang-Signature": signature(self.secret, body),
                   "Idempotency-Key": outgoing.id, "X-Mashang-Attempt": str(outgoing.attempt)}
        started = time.perf_counter()
        try:
            answer = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryResult(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:500])
        ok = 200 <= answer.status_code < 300
        return DeliveryResult(ok=ok, status_code=answer.status_code, latency_ms=_ms(started),
                              error=None if ok else f"HTTP {answer.status_code}",
                              retry_after_seconds=parse_retry_after(answer.headers.get("retry-after")))


class LogChannel:
    """No webhook configured: pages go to the log (development, demos)."""

    name = "log"

    def send(self, outgoing: Outgoing) -> DeliveryResult:
        return self.send_many([outgoing])[0]

    def send_many(self, batch: list[Outgoing]) -> list[DeliveryResult]:
        """One log record for the round (a line per page): a record each cost more than the rest of a page."""
        if batch:
            log.info("%s", "\n".join(f"page {o.id} (attempt {o.attempt}): {o.payload}" for o in batch))
        return [_LOGGED] * len(batch)


@dataclass
class FakeChannel:
    """Records what it was asked to send; can be told to fail (tests)."""

    name: str = "webhook"
    sent: list[Outgoing] = field(default_factory=list)
    fail_with: int | None = None

    def send(self, outgoing: Outgoing) -> DeliveryResult:
        self.sent.append(outgoing)
        if self.fail_with is not None:
            return DeliveryResult(ok=False, status_code=self.fail_with, error=f"HTTP {self.fail_with}",
                                  latency_ms=0.0)
        return DeliveryResult(ok=True, status_code=200, latency_ms=0.0)


_LOGGED = DeliveryResult(ok=True, latency_ms=0.0)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
