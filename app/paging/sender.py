"""The outbox sender: claim due notifications, deliver outside any transaction, record every attempt.

Delivery is at least once: a claim is a lease (the row's next attempt moves into the future); if the
process dies mid-send, the lease runs out and another sweep sends it again with the same id.
"""

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from app import clock
from app.clock import as_utc
from app.config import Settings
from app.db import get_engine, write_session
from app.paging.channels import Channel, DeliveryResult, LogChannel, Outgoing, WebhookChannel
from app.paging.models import DeliveryAttempt, Notification, NotificationState, PushSubscription
from app.reports.models import CaseEvent

log = logging.getLogger("mashang.paging")
LEASE = timedelta(seconds=30)
# Which of several notifications to one phone about one case is sent when they are coalesced.
PRIORITY = {"escalation": 4, "warning": 3, "page": 2, "repage": 1, "resident_update": 0}
BATCH = 50
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
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pager")

    def claim(self, *, now: datetime, limit: int = BATCH) -> list[Claimed]:
        with write_session() as session:
            query = (select(Notification).where(Notification.state == NotificationState.pending,
                                                Notification.next_attempt_at <= now)
                     .order_by(Notification.next_attempt_at).limit(limit))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = self._pace(session, session.exec(query).all(), now=now)
            claimed = []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + LEASE
                row.last_error = None  # marks the lease as in flight (a failed row waiting to retry has one)
                session.add(row)
                claimed.append(Claimed(Outgoing(id=row.id, channel=row.channel, payload=row.payload,
                                                attempt=row.attempts, endpoint=row.endpoint), row.case_id))
            session.commit()
            return claimed

    def _pace(self, session: Session, rows: list[Notification], *, now: datetime) -> list[Notification]:
        """Meet the gateway's once-a-minute limit per phone by coalescing, never by dropping.

        Of several due notifications to one phone about one case, the most important is sent and the others
        are marked coalesced into it (a warning carries everything a re-page did). Anything else to a phone
        that was called less than a minute ago waits for the minute to pass.
        """
        interval = timedelta(seconds=self.settings.pager_min_interval_seconds)
        if interval.total_seconds() <= 0:
            return rows
        paced = [r for r in rows if r.channel != "webhook"]
        by_phone: dict[str, list[Notification]] = {}
        for row in rows:
            if row.channel == "webhook":
                by_phone.setdefault(row.phone, []).append(row)
        for phone, due in by_phone.items():
            last = session.exec(select(func.max(Notification.delivered_at)).where(
                Notification.phone == phone, Notification.channel == "webhook",
                Notification.delivered_at > now - interval)).one()
            # A call in flight (claimed by this or another instance, not yet recorded) holds the phone too. A
            # failed call waiting for its retry does not: it has its error, and must not hold back the others.
            leased = session.exec(select(Notification.id).where(
                Notification.phone == phone, Notification.channel == "webhook",
                Notification.state == NotificationState.pending, Notification.attempts > 0,
                Notification.last_error.is_(None), Notification.next_attempt_at > now)).first()
            due.sort(key=lambda r: (-PRIORITY.get(r.kind, 0), r.created_at))
            chosen = due[0]
            for other in due[1:]:
                if other.case_id == chosen.case_id:
                    other.state = NotificationState.coalesced.value
                    other.last_error = f"coalesced into {chosen.id}"
                else:
                    other.next_attempt_at = now + interval
                session.add(other)
            if last is not None or leased is not None:
                wait_until = (as_utc(last) + interval) if last is not None else now + interval
                chosen.next_attempt_at = max(wait_until, now + timedelta(seconds=1))
                session.add(chosen)
                continue
            paced.append(chosen)
        return paced

    def deliver_due(self, *, now: datetime | None = None) -> int:
        """Send what is due, in parallel; returns how many were attempted."""
        now = now or clock.now()
        claimed = self.claim(now=now)
        if not claimed:
            return 0
        results = list(self._pool.map(self._send, claimed))
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

    def record(self, claimed: list[Claimed], results: list[DeliveryResult]) -> None:
        now = clock.now()
        # The write lock first: a plain BEGIN that reads and then writes fails on SQLite if the sweeper or an
        # intake batch committed in between ("database is locked"), and the attempts would go unrecorded.
        with write_session() as session:
            for item, result in zip(claimed, results, strict=True):
                row = session.get(Notification, item.outgoing.id)
                session.add(DeliveryAttempt(notification_id=row.id, attempt=item.outgoing.attempt, at=now,
                                            status_code=result.status_code, latency_ms=result.latency_ms,
                                            error=result.error, ok=result.ok))
                if result.ok:
                    row.state = NotificationState.delivered.value
                    row.delivered_at = now
                    row.last_error = None
                    session.add(CaseEvent(case_id=item.case_id, kind="delivered", at=now, public=False,
                                          detail={"notification": row.id, "kind": row.kind, "attempt": row.attempts}))
                elif result.gone:
                    row.state = NotificationState.delivered.value
                    row.last_error = result.error
                    _forget_subscription(session, item.outgoing.endpoint)
                else:
                    row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts,
                                                                                  result.retry_after_seconds))
                    row.last_error = result.error or "failed"
                    session.add(CaseEvent(case_id=item.case_id, kind="delivery_failed", at=now, public=False,
                                          detail={"notification": row.id, "attempt": row.attempts,
                                                  "error": result.error}))
                session.add(row)
            session.commit()


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
