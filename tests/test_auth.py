"""Login: a cookie (HttpOnly, SameSite) and a bearer token; CSRF on cookie writes; throttling; expiry."""

from datetime import timedelta

from app import clock
from app.config import DEMO_PASSWORD

WORKER = "13800000101"


def _login(client, phone=WORKER, password=DEMO_PASSWORD):
    return client.post("/api/v1/auth/login", json={"phone": phone, "password": password})


def test_login_sets_an_httponly_samesite_cookie_and_returns_a_bearer_token(client, demo):
    answer = _login(client)
    assert answer.status_code == 200
    body = answer.json()
    assert body["access_token"] and body["person"]["phone"] == "+8613800000101"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("mashang_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie


def test_cookie_is_secure_when_the_public_url_is_https(client, demo, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("MASHANG_PUBLIC_URL", "https://scan.example.cn")
    get_settings.cache_clear()
    cookie = next(h for h in _login(client).headers.get_list("set-cookie") if h.startswith("mashang_session="))
    assert "Secure" in cookie


def test_phone_may_be_written_as_people_write_it(client, demo):
    assert _login(client, phone="138-0000-0101").status_code == 200


def test_wrong_password_is_401_with_the_error_body(client, demo):
    answer = _login(client, password="wrong-password")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "bad_credentials"
    assert answer.json()["error"]["message_en"]


def test_unknown_phone_is_401_like_a_wrong_password(client, demo):
    assert _login(client, phone="13999999999").status_code == 401


def test_bearer_token_authenticates(client, demo):
    token = _login(client).json()["access_token"]
    client.cookies.clear()
    answer = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json()["name"] == "张伟"


def test_no_credentials_is_401(client, demo):
    assert client.get("/api/v1/auth/me").status_code == 401


def test_cookie_write_without_csrf_header_is_refused(client, demo):
    _login(client)
    answer = client.post("/api/v1/auth/logout")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "csrf_failed"


def test_cookie_write_with_csrf_header_is_accepted(client, demo):
    csrf = _login(client).json()["csrf_token"]
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_bearer_write_needs_no_csrf_header(client, demo):
    token = _login(client).json()["access_token"]
    client.cookies.clear()
    assert client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204


def test_failed_logins_are_throttled_with_retry_after(client, demo):
    for _ in range(5):
        assert _login(client, password="wrong-password").status_code == 401
    answer = _login(client)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["error"]["code"] == "login_throttled"


def test_throttle_lifts_after_the_window(client, demo):
    for _ in range(5):
        _login(client, password="wrong-password")
    later = clock.now() + timedelta(minutes=16)
    clock.set_source(lambda: later)
    assert _login(client).status_code == 200


def test_sessions_expire(client, demo):
    token = _login(client).json()["access_token"]
    later = clock.now() + timedelta(hours=13)
    clock.set_source(lambda: later)
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_person_without_password_cannot_log_in(client, demo):
    from app.db import session_scope
    from app.people import service as people_service

    with session_scope() as s:
        people_service.add_or_update(s, phone="13700000000", name="新人", role="worker")
    assert _login(client, phone="13700000000", password="").status_code == 401
