"""The gateway's once-a-minute limit per phone, met by coalescing and waiting, never by dropping."""

import pytest
from sqlmodel import select

from app.config import get_settings
from app.db import session_scope
from app.paging.models import Notification
from tests.escalation.harness import Timeline, summary


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setenv("MASHANG_PAGER_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    get_settings.cache_clear()


def _states(kind: str) -> list[str]:
    with session_scope() as s:
        return [n.state for n in s.exec(select(Notification).where(Notification.kind == kind))]


def test_a_repage_due_with_a_warning_is_coalesced_into_the_warning(db_url, demo, gateway):
    tl = Timeline()
    tl.report()
    tl.at(0)
    tl.at(10)
    at_20 = summary(tl.at(20))
    assert at_20 == [("warning", 0, "刘洋"), ("warning", 0, "张伟")]
    assert sorted(_states("repage")) == ["coalesced", "coalesced", "delivered", "delivered"]


def test_a_second_case_to_a_phone_paged_seconds_ago_waits_for_the_minute(db_url, demo, gateway):
    tl = Timeline()
    tl.report()
    tl.at(0)
    tl.report(description="另一件事：垃圾没有清运")
    assert tl.at(0.5) == []
    assert summary(tl.at(1)) == [("page", 0, "刘洋"), ("page", 0, "张伟")]


def test_after_downtime_each_phone_gets_one_call_and_nothing_is_dropped(db_url, demo, gateway):
    tl = Timeline()
    tl.report()
    late = summary(tl.at(65))
    assert [name for _, _, name in late].count("张伟") == 1
    assert ("escalation", 1, "王芳") in late and ("escalation", 2, "马建国") in late
    with session_scope() as s:
        rows = s.exec(select(Notification)).all()
    assert {r.state for r in rows} <= {"delivered", "coalesced"}
    assert all(r.last_error.startswith("coalesced into") for r in rows if r.state == "coalesced")


def test_the_minimum_interval_can_be_lifted(db_url, demo, gateway, monkeypatch):
    monkeypatch.setenv("MASHANG_PAGER_MIN_INTERVAL_SECONDS", "0")
    get_settings.cache_clear()
    tl = Timeline()
    tl.report()
    tl.at(0)
    tl.report(description="另一件事")
    assert len(tl.at(0.5)) == 2
