"""Request dependencies: the database session (committed at the boundary) and the current person."""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import AuthSession
from app.config import Settings, get_settings
from app.db import REQUEST_SESSIONS, get_engine, write_session
from app.errors import Forbidden, Unauthorized
from app.people.models import Person

SESSION_COOKIE = "mashang_session"
CSRF_COOKIE = "mashang_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


Endpoint = TypeVar("Endpoint", bound=Callable)


def writes(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that writes (a logged view of a phone number): its session takes the write lock early."""
    endpoint.__mashang_writes__ = True  # type: ignore[attr-defined]
    return endpoint


def locks_itself(endpoint: Endpoint) -> Endpoint:
    """Mark a write route whose request session only reads: it takes the write lock itself, briefly, in its own
    session (an upload decodes an image first). Giving its request session the lock too would deadlock."""
    endpoint.__mashang_writes__ = False  # type: ignore[attr-defined]
    return endpoint


def _is_write(request: Request) -> bool:
    marked = getattr(request.scope.get("endpoint"), "__mashang_writes__", None)
    return marked if marked is not None else request.method not in SAFE_METHODS


_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


async def db_slot() -> AsyncIterator[None]:
    """A place among the REQUEST_SESSIONS requests that may hold a database session at once.

    Taken on the event loop before the session's first thread-pool call: a burst of requests then queues here,
    instead of filling the thread pool with threads waiting for connections that the requests holding them
    cannot give back, because they in turn wait for a thread (a deadlock until the pool's 30 s timeout).
    """
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(REQUEST_SESSIONS)
    async with slots:
        yield


def get_db(request: Request, _slot: Annotated[None, Depends(db_slot)]) -> Iterator[Session]:
    """One unit of work per request: committed if the route succeeds, rolled back on any error.

    On SQLite a request that writes begins with BEGIN IMMEDIATE: a plain BEGIN reads first and upgrades to a
    write later, and that upgrade fails at once ("database is locked") when the sweeper or another request
    committed in between, whatever the busy timeout. Reads keep plain BEGIN and stay concurrent under WAL.
    """
    if _is_write(request) and get_engine().dialect.name == "sqlite":
        # Not the in-process writer queue: FastAPI may open and close this session on different pool threads,
        # and that lock belongs to a thread. The request waits in SQLite's busy handler instead.
        with write_session(queue=False) as session:
            yield session
            session.commit()
        return
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
