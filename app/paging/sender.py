"""The outbox sender: claim due notifications, deliver outside any transaction, record every attempt.

Delivery is at least once: a claim is a lease (the row's next attempt moves into the future); if the
process dies mid-send, the lease runs out and another sweep sends it again with the same id.
"""

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Dialect, bindparam, func, update
from sqlmodel import Session, select

from app import clock
from app.bulk import Prepared, execute, prepare_insert
from app.clock import as_utc
from app.config import Settings
from app.db import get_engine, write_session
from app.paging.channels import Channel, DeliveryResult, LogChannel, Outgoing, WebhookChannel
from app.paging.models import DeliveryAttempt, Notification, NotificationState, PushSubscription
from app.reports.models import CaseEvent

log = logging.getLogger("mashang.paging")
notifications = Notification.__table__
attempts_table = DeliveryAttempt.__table__
events_table = CaseEvent.__table__
LEASE = timedelta(seconds=30)
# Which of several notifications to one phone about one case is sent when they are coalesced.
PRIORITY = {"escalation": 4, "warning": 3, "page": 2, "repage": 1, "resident_update": 0}
BATCH = 200
# Calls in flight: a gateway answers in tens of milliseconds, so throughput is this many per round trip.
WORKERS = 32
BASE_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 600.0


@dataclass(frozen=True)
class Claimed:
    outgoing: Outgoing
    case_id: int


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential with full jitter, capped; a gateway's Retry-After is honoured when it asks for longer."""
    ceiling = min(MAX_BACKOFF_SECONDS, BASE_BACKOFF_SECONDS * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


class Sender:
    """Delivers the outbox through the configured channels; one per process."""

    def __init__(self, settings: Settings, channels: dict[str, Channel] | None = None) -> None:
        self.settings = settings
        self.channels: dict[str, Channel] = channels or default_channels(settings)
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="pager")
        self.more_due = False  # the last claim took a full batch: more may be due at once

    def claim(self, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
        """Lease up to limit due notifications (one transaction, a few statements whatever the batch size)."""
        with write_session() as session:
            claimed = self._claim(session.connection(), now=now, limit=limit)
            session.commit()
            return claimed

    def _claim(self, conn: Connection, *, now: datetime, limit: int) -> list[Claimed]:
        n = notifications.c
        query = (select(n.id, n.case_id, n.phone, n.kind, n.channel, n.payload, n.attempts, n.endpoint, n.created_at)
                 .where(n.state == NotificationState.pending.value, n.next_attempt_at <= now)
                 .order_by(n.next_attempt_at).limit(limit))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        due = conn.execute(query).all()
        self.more_due = len(due) >= limit
        rows = self._pace(conn, due, now=now)
        if not rows:
            return []
        ids = [row.id for row in rows]
        # last_error cleared marks the lease as in flight (a failed row waiting to retry has one).
        for chunk in _chunks(ids):
            conn.execute(update(notifications).where(n.id.in_(chunk)).values(
                attempts=n.attempts + 1, next_attempt_at=now + LEASE, last_error=None))
        return [Claimed(Outgoing(id=row.id, channel=row.channel, payload=row.payload, attempt=row.attempts + 1,
                                 endpoint=row.endpoint), row.case_id) for row in rows]

    def _pace(self, conn: Connection, rows: list, *, now: datetime) -> list:
        """Meet the gateway's once-a-minute limit per phone by coalescing, never by dropping.

        Of several due notifications to one phone about one case, the most important is sent and the others
        are marked coalesced into it (a warning carries everything a re-page did). Anything else to a phone
        that was called less than a minute ago waits for the minute to pass. Two queries for the whole batch.
        """
        interval = timedelta(seconds=self.settings.pager_min_interval_seconds)
        if interval.total_seconds() <= 0:
            return rows
        n = notifications.c
        paced = [r for r in rows if r.channel != "webhook"]
        by_phone: dict[str, list] = {}
        for row in rows:
            if row.channel == "webhook":
                by_phone.setdefault(row.phone, []).append(row)
        last: dict[str, datetime] = {}
        leased: set[str] = set()
        for phones in _chunks(list(by_phone)):
            last.update((phone, as_utc(at)) for phone, at in conn.execute(
                select(n.phone, func.max(n.delivered_at)).where(
                    n.phone.in_(phones), n.channel == "webhook", n.delivered_at > now - interval)
                .group_by(n.phone)) if at is not None)
            # A call in flight (claimed by this or another instance, not yet recorded) holds the phone too. A
            # failed call waiting for its retry does not: it has its error, and must not hold back the others.
            leased.update(conn.execute(select(n.phone).where(
                n.phone.in_(phones), n.channel == "webhook", n.state == NotificationState.pending.value,
                n.attempts > 0, n.last_error.is_(None), n.next_attempt_at > now).distinct()).scalars())
        coalesced, deferred = [], []
        for phone, due in by_phone.items():
            due.sort(key=lambda r: (-PRIORITY.get(r.kind, 0), as_utc(r.created_at)))
            chosen = due[0]
            for other in due[1:]:
                if other.case_id == chosen.case_id:
                    coalesced.append({"b_id": other.id, "b_error": f"coalesced into {chosen.id}"})
                else:
                    deferred.append({"b_id": other.id, "b_next": now + interval})
            if phone in last or phone in leased:
                wait_until = last[phone] + interval if phone in last else now + interval
                deferred.append({"b_id": chosen.id, "b_next": max(wait_until, now + timedelta(seconds=1))})
                continue
            paced.append(chosen)
        if coalesced:
            conn.execute(update(notifications).where(n.id == bindparam("b_id")).values(
                state=NotificationState.coalesced.value, last_error=bindparam("b_error")), coalesced)
        if deferred:
            conn.execute(update(notifications).where(n.id == bindparam("b_id")).values(
                next_attempt_at=bindparam("b_next")), deferred)
        return paced

    def deliver_due(self, *, now: datetime | None = None) -> int:
        """Send what is due (in parallel, but for channels that take a round at once); how many were attempted."""
        now = now or clock.now()
        claimed = self.claim(now=now)
        if not claimed:
            return 0
        results: list[DeliveryResult | None] = [None] * len(claimed)
        waiting, batched = {}, {}
        for index, item in enumerate(claimed):
            if hasattr(self.channels.get(item.outgoing.channel), "send_many"):
                batched.setdefault(item.outgoing.channel, []).append(index)
            else:
                waiting[index] = self._pool.submit(self._send, item)
        for name, indexes in batched.items():
            for index, result in zip(indexes, self._send_many(name, [claimed[i] for i in indexes]), strict=True):
                results[index] = result
        for index, future in waiting.items():
            results[index] = future.result()
        self.record(claimed, results)
        return len(claimed)

    def _send(self, item: Claimed) -> DeliveryResult:
        channel = self.channels.get(item.outgoing.channel)
        if channel is None:
            return DeliveryResult(ok=False, error=f"no channel {item.outgoing.channel!r} configured")
        try:
            return channel.send(item.outgoing)
        except Exception as exc:  # noqa: BLE001 - a channel bug is a failed attempt, not a lost page
            log.exception("channel %s failed", item.outgoing.channel)
            return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])

    def _send_many(self, name: str, items: list[Claimed]) -> list[DeliveryResult]:
        try:
            return self.channels[name].send_many([item.outgoing for item in items])
        except Exception as exc:  # noqa: BLE001 - as in _send
            log.exception("channel %s failed", name)
            return [DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])] * len(items)

    def record(self, claimed: list[Claimed], results: list[DeliveryResult]) -> None:
        """Every attempt, and each notification's new state, in one transaction (bulk statements)."""
        now = clock.now()
        outcome = _Outcome.of(claimed, results, now=now, dialect=get_engine().dialect)
        # The write lock first: a plain BEGIN that reads and then writes fails on SQLite if the sweeper or an
        # intake batch committed in between ("database is locked"), and the attempts would go unrecorded.
        with write_session() as session:
            outcome.write(session, now=now)
            session.commit()


@dataclass
class _Outcome:
    """What a round of sends changes, its rows converted for the driver before the write lock is taken."""

    attempts: Prepared | None
    events: Prepared | None
    delivered: list[str]
    gone: list[dict]
    gone_endpoints: list[str]
    failed: list[dict]

    @classmethod
    def of(cls, claimed: list[Claimed], results: list[DeliveryResult], *, now: datetime,
           dialect: Dialect) -> "_Outcome":
        attempts, events, delivered, gone, endpoints, failed = [], [], [], [], [], []
        for item, result in zip(claimed, results, strict=True):
            out = item.outgoing
            attempts.append({"notification_id": out.id, "attempt": out.attempt, "at": now,
                             "status_code": result.status_code, "latency_ms": result.latency_ms,
                             "error": result.error, "ok": result.ok})
            if result.ok:
                # No case event: the attempt row and the notification's delivered_at already say it, and a third
                # copy (JSON and all) was two more rows per page in the write lock for a line nobody is shown.
                delivered.append(out.id)
            elif result.gone:
                gone.append({"b_id": out.id, "b_error": result.error})
                if out.endpoint:
                    endpoints.append(out.endpoint)
            else:
                failed.append({"b_id": out.id, "b_error": result.error or "failed",
                               "b_next": now + timedelta(seconds=backoff_seconds(out.attempt,
                                                                                 result.retry_after_seconds))})
                events.append({"case_id": item.case_id, "kind": "delivery_failed", "at": now, "public": False,
                               "actor_id": None,
                               "detail": {"notification": out.id, "attempt": out.attempt, "error": result.error}})
        return cls(prepare_insert(dialect, attempts_table, attempts), prepare_insert(dialect, events_table, events),
                   delivered, gone, endpoints, failed)

    def write(self, session: Session, *, now: datetime) -> None:
        n = notifications.c
        conn = session.connection()
        execute(conn, self.attempts)
        for chunk in _chunks(self.delivered):
            conn.execute(update(notifications).where(n.id.in_(chunk)).values(
                state=NotificationState.delivered.value, delivered_at=now, last_error=None))
        if self.gone:
            conn.execute(update(notifications).where(n.id == bindparam("b_id")).values(
                state=NotificationState.delivered.value, last_error=bindparam("b_error")), self.gone)
            for endpoint in self.gone_endpoints:
                _forget_subscription(session, endpoint)
        if self.failed:
            conn.execute(update(notifications).where(n.id == bindparam("b_id")).values(
                next_attempt_at=bindparam("b_next"), last_error=bindparam("b_error")), self.failed)
        execute(conn, self.events)


def _chunks(values: list, size: int = 500) -> list[list]:
    return [values[i:i + size] for i in range(0, len(values), size)]


def _forget_subscription(session: Session, endpoint: str | None) -> None:
    if endpoint:
        for sub in session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)):
            session.delete(sub)


def subscription_keys(endpoint: str | None) -> tuple[str, str] | None:
    """(p256dh, auth) of a live subscription, or None if it was removed."""
    if not endpoint:
        return None
    with Session(get_engine()) as session:
        row = session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
        return (row.p256dh, row.auth) if row else None


def default_channels(settings: Settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"log": LogChannel()}
    if settings.pager_webhook_url:
        channels["webhook"] = WebhookChannel(settings.pager_webhook_url, settings.pager_webhook_secret)
    if settings.web_push_enabled:
        from app.paging.webpush import WebPushChannel

        channels["webpush"] = WebPushChannel(private_key=settings.vapid_private_key, subject=settings.vapid_subject,
                                             keys_for=subscription_keys)
    return channels
