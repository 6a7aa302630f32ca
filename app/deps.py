"""Request dependencies: the database session (committed at the boundary) and the current person."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import AuthSession
from app.config import Settings, get_settings
from app.db import get_engine
from app.errors import Forbidden, Unauthorized
from app.people.models import Person

SESSION_COOKIE = "mashang_session"
CSRF_COOKIE = "mashang_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_db() -> Iterator[Session]:
    """One unit of work per request: committed if the route succeeds, rolled back on any error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        else:
            session.commit()


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_login(request: Request, session: SessionDep) -> tuple[Person, AuthSession]:
    """Bearer token first, then the session cookie (which needs the CSRF header on writes)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return auth_service.authenticate(session, token=header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("not_authenticated")
    person, row = auth_service.authenticate(session, token=cookie)
    if request.method not in SAFE_METHODS and not auth_service.csrf_matches(row, request.headers.get(CSRF_HEADER)):
        raise Forbidden("csrf_failed")
    return person, row


def current_person(login: Annotated[tuple[Person, AuthSession], Depends(current_login)]) -> Person:
    return login[0]


CurrentPerson = Annotated[Person, Depends(current_person)]
