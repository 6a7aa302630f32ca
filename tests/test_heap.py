"""A serving process freezes its startup heap (app.heap): full collections then skip the framework's objects."""

import gc
import signal

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.escalation import process
from app.main import create_app


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process must not keep what it froze


def test_serving_app_freezes_its_startup_heap(monkeypatch, unfrozen):
    monkeypatch.setenv("MASHANG_FREEZE_HEAP", "on")
    monkeypatch.setenv("MASHANG_DATABASE_URL", "sqlite:///./heap.db")
    get_settings.cache_clear()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app()):
        assert gc.get_freeze_count() > 10_000  # the imported framework, not a handful of objects


def test_freezing_can_be_turned_off(monkeypatch, unfrozen):
    monkeypatch.setenv("MASHANG_DATABASE_URL", "sqlite:///./heap.db")
    get_settings.cache_clear()
    assert get_settings().freeze_heap is False  # as the suite sets it
    with TestClient(create_app()):
        assert gc.get_freeze_count() == 0


def test_the_ticker_process_freezes_its_startup_heap(db_url, monkeypatch, unfrozen):
    """`mashang ticker` (app.escalation.process.run) freezes once its scheduler has started."""
    monkeypatch.setenv("MASHANG_FREEZE_HEAP", "on")
    # A parent pid that is not ours: the ticker stops by itself after its first wait (about a second).
    monkeypatch.setenv("MASHANG_TICKER_PARENT_PID", str(2**22 + 1))
    get_settings.cache_clear()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        process.run(get_settings())
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert gc.get_freeze_count() > 10_000
