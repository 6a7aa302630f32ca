"""Fixtures: every database test runs on SQLite and on a throwaway PostgreSQL database."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import clock
from app.config import get_settings
from app.db import reset_engine

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("MASHANG_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CHROMIUM = "/usr/bin/chromium"


def missing(reason: str) -> None:
    """Skip outside CI, fail in CI, with the reason visible either way."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)")
    pytest.skip(reason)


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MASHANG_") and key != "MASHANG_TEST_DATABASE_URL":
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    _clear_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASHANG_ENV", "test")
    # Tests drive the sweep themselves with a controlled clock; the real ticker runs in the process tests.
    monkeypatch.setenv("MASHANG_SCHEDULER", "off")
    monkeypatch.setenv("MASHANG_FREEZE_HEAP", "off")
    monkeypatch.setenv("MASHANG_MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    reset_engine()
    yield
    clock.set_source(None)
    reset_engine()
    get_settings.cache_clear()


# --- PostgreSQL: one throwaway database per run, migrated once, emptied before each test ---

_pg_state: dict[str, object] = {}


def _pg_database(request: pytest.FixtureRequest) -> str:
    if "error" in _pg_state:
        missing(str(_pg_state["error"]))
    if "url" in _pg_state:
        return str(_pg_state["url"])
    from bench.common import create_pg_database, drop_pg_database

    try:
        url = create_pg_database(PG_ADMIN_URL, prefix="mashang_test")
    except Exception as exc:  # noqa: BLE001
        shown = make_url(PG_ADMIN_URL).render_as_string()
        _pg_state["error"] = f"PostgreSQL is not reachable at {shown}: {type(exc).__name__}"
        missing(str(_pg_state["error"]))

    def drop() -> None:
        reset_engine()
        drop_pg_database(PG_ADMIN_URL, url)

    request.session.addfinalizer(drop)
    _pg_state["url"] = url
    _pg_state["migrated"] = False
    return url


def _pg_empty(url: str) -> None:
    """Empty every table, then put back the rows the migrations seeded (categories)."""
    from sqlmodel import SQLModel

    import app.models  # noqa: F401

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if "seed" not in _pg_state:
            _pg_state["seed"] = {
                name: [dict(r._mapping) for r in conn.execute(SQLModel.metadata.tables[name].select())]
                for name in tables if name in SQLModel.metadata.tables
            }
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        for name, rows in _pg_state["seed"].items():
            if rows:
                conn.execute(SQLModel.metadata.tables[name].insert(), rows)
    engine.dispose()


_sqlite_template: dict[str, Path] = {}


def _sqlite_database(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, migrated: bool) -> str:
    target = tmp_path / "var" / "mashang.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    if migrated:
        if "path" not in _sqlite_template:
            template = tmp_path_factory.mktemp("sqlite-template") / "template.db"
            from app import migrate
            from app.config import Settings

            migrate.upgrade(Settings(database_url=f"sqlite:///{template}", env="test"))
            _sqlite_template["path"] = template
        shutil.copy(_sqlite_template["path"], target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                 tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        url = _sqlite_database(tmp_path, tmp_path_factory, migrated=False)
    else:
        url = _pg_database(request)
        from app import migrate
        from app.config import Settings

        migrate.downgrade(Settings(database_url=url, env="test"), "base")
        _pg_state["migrated"] = False
    monkeypatch.setenv("MASHANG_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engine()
    return url


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path,
           tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated, empty database on this test's backend; MASHANG_DATABASE_URL points at it."""
    if backend == "sqlite":
        url = _sqlite_database(tmp_path, tmp_path_factory, migrated=True)
    else:
        url = _pg_database(request)
        if not _pg_state["migrated"]:
            from app import migrate
            from app.config import Settings

            migrate.upgrade(Settings(database_url=url, env="test"))
            _pg_state["migrated"] = True
        _pg_empty(url)
    monkeypatch.setenv("MASHANG_DATABASE_URL", url)
    get_settings.cache_clear()
    reset_engine()
    return url


@pytest.fixture
def session(db_url: str):
    from app.db import session_scope

    with session_scope() as s:
        yield s


@pytest.fixture
def client(db_url: str):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def demo(db_url: str) -> None:
    """The demo city, loaded."""
    from app import demo as demo_city
    from app.db import session_scope

    with session_scope() as s:
        demo_city.load(s, settings=get_settings())


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM
