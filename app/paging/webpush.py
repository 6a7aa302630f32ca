"""Web Push: VAPID keys, subscriptions of staff browsers, and the channel that sends to them."""

import base64
import time
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPushException, webpush
from sqlmodel import Session, select

from app.errors import InvalidInput
from app.paging.channels import DeliveryResult, Outgoing, parse_retry_after
from app.paging.models import PushSubscription

TIMEOUT_SECONDS = 10.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_vapid_keys() -> tuple[str, str]:
    """(public key for the browser, private key for the server), both base64url."""
    vapid = Vapid()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64(public), _b64(private)


def subscribe(session: Session, *, person_id: int, endpoint: str, p256dh: str, auth: str, now: datetime) -> bool:
    """Remember a browser's subscription for a person; True if it is new."""
    if not endpoint.startswith(("https://", "http://")) or len(endpoint) > 1000:
        raise InvalidInput("validation_error", field="endpoint", message="推送地址无效",
                           message_en="The push endpoint is not a valid URL")
    existing = session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint)).first()
    if existing is not None:
        existing.person_id, existing.p256dh, existing.auth = person_id, p256dh, auth
        session.add(existing)
        session.flush()
        return False
    session.add(PushSubscription(person_id=person_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now))
    session.flush()
    return True


def unsubscribe(session: Session, *, person_id: int, endpoint: str) -> None:
    for row in session.exec(select(PushSubscription).where(PushSubscription.endpoint == endpoint,
                                                           PushSubscription.person_id == person_id)):
        session.delete(row)
    session.flush()


def subscriptions_of(session: Session, *, person_id: int) -> list[PushSubscription]:
    return list(session.exec(select(PushSubscription).where(PushSubscription.person_id == person_id)))


class WebPushChannel:
    """Encrypts the page (aes128gcm) and POSTs it to the browser's push service, signed with VAPID."""

    name = "webpush"

    def __init__(self, *, private_key: str, subject: str, keys_for: callable) -> None:
        self.private_key, self.subject, self.keys_for = private_key, subject, keys_for

    def send(self, outgoing: Outgoing) -> DeliveryResult:
        keys = self.keys_for(outgoing.endpoint)
        if keys is None:
            return DeliveryResult(ok=False, error="subscription no longer exists", gone=True)
        started = time.perf_counter()
        try:
            answer = webpush({"endpoint": outgoing.endpoint, "keys": {"p256dh": keys[0], "auth": keys[1]}},
                             data=outgoing.payload, vapid_private_key=self.private_key,
                             vapid_claims={"sub": self.subject}, timeout=TIMEOUT_SECONDS, ttl=3600,
                             headers={"Urgency": "high", "Topic": outgoing.id[:32]})
        except WebPushException as exc:
            status = exc.status_code
            return DeliveryResult(ok=False, status_code=status, latency_ms=_ms(started), error=str(exc)[:500],
                                  retry_after_seconds=parse_retry_after(exc.retry_after),
                                  gone=status in (404, 410))
        except Exception as exc:  # noqa: BLE001 - network errors of every kind are a failed attempt
            return DeliveryResult(ok=False, latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}"[:500])
        return DeliveryResult(ok=True, status_code=answer.status_code, latency_ms=_ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
