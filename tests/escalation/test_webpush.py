"""Web Push against a fake push service on loopback: VAPID-signed, encrypted, and dead subscriptions dropped."""

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import select

from app.config import DEMO_PASSWORD, get_settings
from app.db import session_scope
from app.paging.models import Notification, PushSubscription
from app.paging.webpush import new_vapid_keys
from tests.escalation.harness import Timeline


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakePushService:
    """Answers like a browser vendor's push service; records what arrived."""

    def __init__(self, status: int = 201) -> None:
        self.status, self.received = status, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def push_service():
    service = FakePushService()
    yield service
    service.close()


@pytest.fixture
def vapid(monkeypatch):
    public, private = new_vapid_keys()
    monkeypatch.setenv("MASHANG_VAPID_PUBLIC_KEY", public)
    monkeypatch.setenv("MASHANG_VAPID_PRIVATE_KEY", private)
    get_settings.cache_clear()
    return public


def _browser_keys() -> tuple[ec.EllipticCurvePrivateKey, str, bytes, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    return private, _b64(public), auth, _b64(auth)


def _subscribe(client, endpoint: str, p256dh: str, auth: str, phone: str = "13800000101") -> int:
    token = client.post("/api/v1/auth/login", json={"phone": phone, "password": DEMO_PASSWORD}).json()["access_token"]
    client.cookies.clear()
    return client.post("/api/v1/push/subscriptions", json={"endpoint": endpoint, "keys": {"p256dh": p256dh,
                                                                                          "auth": auth}},
                       headers={"Authorization": f"Bearer {token}"}).status_code


def test_push_key_is_404_until_vapid_keys_are_set(client):
    assert client.get("/api/v1/push/key").status_code == 404


def test_push_key_is_served_when_configured(client, vapid):
    assert client.get("/api/v1/push/key").json() == {"public_key": vapid}


def test_subscribing_needs_a_login(client, demo, vapid):
    body = {"endpoint": "http://127.0.0.1:1/x", "keys": {"p256dh": "a", "auth": "b"}}
    assert client.post("/api/v1/push/subscriptions", json=body).status_code == 401


def test_a_page_reaches_the_browser_encrypted_and_vapid_signed(client, demo, vapid, push_service):
    private, p256dh, auth, auth_b64 = _browser_keys()
    assert _subscribe(client, f"{push_service.url}/push/worker", p256dh, auth_b64) == 201
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    assert len(push_service.received) == 1
    path, headers, body = push_service.received[0]
    assert path == "/push/worker" and headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=") and vapid in headers["authorization"]
    page = json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm"))
    assert page["kind"] == "page" and page["case"]["tracking_code"] == code and page["recipient"]["name"] == "张伟"


def test_a_gone_subscription_is_deleted(client, demo, vapid):
    gone = FakePushService(status=410)
    try:
        _, p256dh, _, auth_b64 = _browser_keys()
        _subscribe(client, f"{gone.url}/push/old-phone", p256dh, auth_b64)
        tl = Timeline()
        tl.report()
        tl.at(0)
        with session_scope() as s:
            assert s.exec(select(PushSubscription)).all() == []
            pushes = s.exec(select(Notification).where(Notification.channel == "webpush")).all()
            assert len(pushes) == 1 and pushes[0].state == "delivered" and "410" in (pushes[0].last_error or "")
    finally:
        gone.close()


def test_the_gateway_page_is_sent_as_well_as_the_push(client, demo, vapid, push_service):
    _, p256dh, _, auth_b64 = _browser_keys()
    _subscribe(client, f"{push_service.url}/push/w", p256dh, auth_b64)
    tl = Timeline()
    tl.report()
    kinds = sorted(p["recipient"]["name"] for p in tl.at(0))
    assert kinds == ["刘洋", "张伟"]
