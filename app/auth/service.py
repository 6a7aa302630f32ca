"""Login with phone and password, sessions that expire, and throttling of failed logins."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from app import clock
from app.auth.models import AuthSession, LoginFailure
from app.clock import as_utc
from app.config import Settings
from app.errors import InvalidInput, TooManyRequests, Unauthorized
from app.people import service as people_service
from app.people.models import Person
from app.phones import normalize_phone


@dataclass(frozen=True)
class LoginResult:
    person: Person
    token: str
    csrf_token: str
    expires_in_seconds: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _throttle_keys(phone: str, client: str | None) -> list[str]:
    keys = [f"phone:{phone}"]
    if client:
        keys.append(f"ip:{client}")
    return keys


def _check_throttle(session: Session, *, keys: list[str], settings: Settings) -> None:
    since = clock.now() - timedelta(seconds=settings.login_window_seconds)
    for key in keys:
        # Per address the bar is higher: a community office shares one address.
        limit = settings.login_max_failures * (4 if key.startswith("ip:") else 1)
        count, oldest = session.exec(
            select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at > since)
        ).one()
        if count >= limit:
            retry = int((as_utc(oldest) - since).total_seconds()) + 1
            raise TooManyRequests("login_throttled", field="phone", retry_after_seconds=retry)


def login(session: Session, *, phone: str, password: str, client: str | None, settings: Settings) -> LoginResult:
    """A new session for the person with this phone and password."""
    try:
        e164 = normalize_phone(phone)
    except InvalidInput:
        raise Unauthorized("bad_credentials", field="phone") from None
    keys = _throttle_keys(e164, client)
    _check_throttle(session, keys=keys, settings=settings)
    person = people_service.get_by_phone(session, phone=e164)
    if not people_service.verify_password(person, password):
        raise Unauthorized("bad_credentials", field="password")
    session.exec(delete(LoginFailure).where(LoginFailure.key == keys[0]))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = clock.now()
    session.add(AuthSession(
        token_hash=_digest(token), person_id=person.id, csrf_token=csrf, created_at=now,
        expires_at=now + timedelta(seconds=settings.session_ttl_seconds),
    ))
    session.flush()
    return LoginResult(person=person, token=token, csrf_token=csrf, expires_in_seconds=settings.session_ttl_seconds)


def record_failure(session: Session, *, phone: str, client: str | None) -> None:
    """Count a failed login against the phone and the client address."""
    try:
        e164 = normalize_phone(phone)
    except InvalidInput:
        e164 = phone.strip()[:40]
    now = clock.now()
    for key in _throttle_keys(e164, client):
        session.add(LoginFailure(key=key, at=now))
    session.flush()


def authenticate(session: Session, *, token: str) -> tuple[Person, AuthSession]:
    """The person behind a session token; Unauthorized if unknown or expired."""
    if not token or len(token) > 200:
        raise Unauthorized("not_authenticated")
    row = session.get(AuthSession, _digest(token))
    if row is None or row.expires_at <= clock.now():
        raise Unauthorized("not_authenticated")
    person = session.get(Person, row.person_id)
    if person is None:
        raise Unauthorized("not_authenticated")
    return person, row


def csrf_matches(row: AuthSession, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(row.csrf_token, supplied)


def logout(session: Session, *, token: str) -> None:
    session.exec(delete(AuthSession).where(AuthSession.token_hash == _digest(token)))


def purge_expired(session: Session) -> int:
    """Drop expired sessions and old failure records (called periodically)."""
    now = clock.now()
    removed = session.exec(delete(AuthSession).where(AuthSession.expires_at <= now)).rowcount
    session.exec(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
    return removed or 0
