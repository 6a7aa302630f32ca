"""A serving process freezes its startup heap (app.heap): full collections then skip the framework's objects."""

import gc

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process must not keep what it froze


def test_serving_app_freezes_its_startup_heap(monkeypatch, unfrozen):
    from app.main import create_app

    monkeypatch.setenv("MASHANG_FREEZE_HEAP", "on")
    monkeypatch.setenv("MASHANG_DATABASE_URL", "sqlite:///./heap.db")
    get_settings.cache_clear()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app()):
        assert gc.get_freeze_count() > 10_000  # the imported framework, not a handful of objects


def test_freezing_can_be_turned_off(monkeypatch, unfrozen):
    from app.main import create_app

    monkeypatch.setenv("MASHANG_DATABASE_URL", "sqlite:///./heap.db")
    get_settings.cache_clear()
    assert get_settings().freeze_heap is False  # as the suite sets it
    with TestClient(create_app()):
        assert gc.get_freeze_count() == 0
