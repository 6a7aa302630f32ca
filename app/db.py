"""Engine, sessions and the schema's conventions; SQLite gets WAL, foreign keys and a busy timeout."""

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine

from app.config import Settings, get_settings

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Postgres advisory-lock key for migrations: any constant shared by every instance.
MIGRATION_LOCK_KEY = 727_001


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


# At most this many request sessions at once per process (app.deps.db_slot). Each holds at most two
# connections (an upload's second, writing one) and the ticker and the intake writer a few more, so the pool
# never runs dry: no thread then waits for a connection held by a request that is itself waiting for a thread.
REQUEST_SESSIONS = 12
POOL_LIMITS = {"pool_size": 10, "max_overflow": 20}


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        limits = POOL_LIMITS if path is not None else {}  # an in-memory database has a one-connection pool
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **limits)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (BEGIN IMMEDIATE works).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            mode = conn.info.pop("sqlite_begin", "BEGIN")
            conn.exec_driver_sql(mode)

        return engine
    return create_engine(url, pool_pre_ping=True, **POOL_LIMITS)


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = make_engine(get_settings())
        return _engine


def reset_engine() -> None:
    """Forget the engine (tests switch databases)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
    with _sqlite_writer:  # and the write-turn files of the databases it wrote to (one per test otherwise)
        while _turn_files and _turn_depth == 0:
            os.close(_turn_files.popitem()[1])


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work for a command or a job: commit on success, roll back on error."""
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# SQLite has one writer at a time. Writers queue for it before they ask SQLite: threads of this process on a lock,
# processes (the web server and its ticker) on an flock beside the database file. When a transaction ends the
# next writer goes at once, where SQLite's busy handler would have it sleep and retry in steps of up to 100 ms.
_sqlite_writer = threading.RLock()
_turn_depth = 0  # nested turns of the thread holding _sqlite_writer: only the outermost takes and drops the flock
_turn_files: dict[str, int] = {}


_turn_keys: dict = {}  # engine URL -> resolved database path (None: in memory); resolving costs syscalls


def _turn_file(engine: Engine) -> int | None:
    try:
        key = _turn_keys[engine.url]
    except KeyError:
        path = _sqlite_path(engine.url.render_as_string(hide_password=False))
        key = _turn_keys[engine.url] = None if path is None else str(path.resolve())
    if key is None:
        return None
    if key not in _turn_files:
        _turn_files[key] = os.open(f"{key}.write-turn", os.O_RDWR | os.O_CREAT, 0o600)
    return _turn_files[key]


@contextmanager
def sqlite_write_turn(engine: Engine) -> Iterator[None]:
    """This thread's turn to write, among this process's threads and other processes on the file (SQLite only)."""
    global _turn_depth
    if engine.dialect.name != "sqlite":
        yield
        return
    with _sqlite_writer:
        fd = _turn_file(engine) if _turn_depth == 0 else None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        _turn_depth += 1
        try:
            yield
        finally:
            _turn_depth -= 1
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)


@contextmanager
def write_session(*, queue: bool = True) -> Iterator[Session]:
    """A session whose transaction takes the write lock at once on SQLite (BEGIN IMMEDIATE).

    Read-then-write sequences (claiming due steps, counting attachments) need the lock before the read,
    or two writers read the same state. On Postgres this is a plain session; use row locks there.
    The caller commits. queue=False skips this process's writer queue (sqlite_write_turn): for a session that
    is opened and closed on different threads, since the queue's lock belongs to the thread that took it.
    """
    engine = get_engine()
    turn = sqlite_write_turn(engine) if queue else nullcontext()
    with turn, engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"
        with Session(bind=conn, expire_on_commit=False) as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise


@contextmanager
def migration_lock(settings: Settings) -> Iterator[None]:
    """Serialise migrations across instances: a Postgres advisory lock, or a lock file beside SQLite."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.migrate.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()
