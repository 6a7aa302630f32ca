"""Delivery rounds: a channel that takes a round at once gets it in one call; the sender says when more is due."""

import logging

import pytest
from sqlmodel import Session, select

from app.db import get_engine
from app.escalation import sweeper
from app.paging.channels import DeliveryResult, LogChannel, Outgoing
from app.paging.models import DeliveryAttempt, Notification
from app.paging.sender import Sender
from app.reports.models import CaseEvent
from tests.escalation.harness import Timeline

both_backends = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


class RoundChannel:
    """Records each call it gets: whole rounds through send_many, single pages through send."""

    name = "log"

    def __init__(self) -> None:
        self.rounds: list[list[str]] = []
        self.singles: list[str] = []

    def send(self, outgoing: Outgoing) -> DeliveryResult:
        self.singles.append(outgoing.id)
        return DeliveryResult(ok=True)

    def send_many(self, batch: list[Outgoing]) -> list[DeliveryResult]:
        self.rounds.append([o.id for o in batch])
        return [DeliveryResult(ok=True) for _ in batch]


def _three_cases_swept(tl: Timeline) -> None:
    for n in range(3):
        tl.report(description=f"第{n}件事")
    sweeper.sweep(settings=tl.settings, now=tl.now)


@both_backends
def test_a_channel_with_send_many_gets_the_whole_round_in_one_call(db_url, demo):
    tl = Timeline()
    _three_cases_swept(tl)  # each paged to the worker and the backup: six pages
    channel = RoundChannel()
    sender = Sender(tl.settings, channels={"log": channel})
    assert sender.deliver_due(now=tl.now) == 6
    assert [len(r) for r in channel.rounds] == [6] and channel.singles == []
    assert sender.deliver_due(now=tl.now) == 0  # all recorded as delivered


@both_backends
def test_more_due_says_whether_the_claim_was_a_full_batch(db_url, demo):
    tl = Timeline()
    _three_cases_swept(tl)
    sender = Sender(tl.settings, channels={"log": RoundChannel()})
    assert len(sender.claim(now=tl.now, limit=4)) == 4 and sender.more_due
    assert len(sender.claim(now=tl.now, limit=4)) == 2 and not sender.more_due


def test_the_log_channel_writes_one_record_per_round(caplog):
    outgoing = [Outgoing(id=f"n{i}", channel="log", payload='{"kind":"page"}', attempt=1) for i in range(5)]
    with caplog.at_level(logging.INFO, logger="mashang.paging"):
        results = LogChannel().send_many(outgoing)
    assert all(r.ok for r in results) and len(results) == 5
    records = [r for r in caplog.records if r.name == "mashang.paging"]
    assert len(records) == 1 and records[0].getMessage().count("\n") == 4


@both_backends
def test_a_delivered_page_is_recorded_on_its_notification_and_attempt_not_as_a_case_event(db_url, demo):
    tl = Timeline()
    _three_cases_swept(tl)
    assert Sender(tl.settings, channels={"log": RoundChannel()}).deliver_due(now=tl.now) == 6
    with Session(get_engine()) as session:
        notifications = session.exec(select(Notification)).all()
        assert len(notifications) == 6
        assert all(n.state == "delivered" and n.delivered_at is not None for n in notifications)
        assert len(session.exec(select(DeliveryAttempt).where(DeliveryAttempt.ok)).all()) == 6
        kinds = set(session.exec(select(CaseEvent.kind)).all())
    assert "delivered" not in kinds and {"created", "paged"} <= kinds


@both_backends
def test_a_failed_attempt_still_leaves_a_case_event(db_url, demo):
    class Failing(RoundChannel):
        def send_many(self, batch: list[Outgoing]) -> list[DeliveryResult]:
            return [DeliveryResult(ok=False, status_code=503, error="HTTP 503") for _ in batch]

    tl = Timeline()
    _three_cases_swept(tl)
    Sender(tl.settings, channels={"log": Failing()}).deliver_due(now=tl.now)
    with Session(get_engine()) as session:
        failed = session.exec(select(CaseEvent).where(CaseEvent.kind == "delivery_failed")).all()
    assert len(failed) == 6
