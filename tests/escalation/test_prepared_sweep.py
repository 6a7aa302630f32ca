"""SQLite's sweep runs a batch on a read snapshot and takes the write lock only to write it: never a stale page."""

from contextlib import contextmanager

import pytest
from sqlmodel import select

from app.db import get_engine, session_scope
from app.escalation import service, sweeper
from app.escalation.models import CaseStep
from app.reports.models import Case
from tests.escalation.harness import Timeline, summary
from tests.sql import recorded_statements, sqlite_plan

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _contact_before_the_write(monkeypatch, tl: Timeline, code: str) -> list[str]:
    """While the sweep holds its prepared batch, the worker records contact (which cancels every pending step)."""
    real = sweeper.write_session
    happened: list[str] = []

    @contextmanager
    def contact_first(**kwargs):
        if not happened:
            happened.append("contacted")
            with session_scope() as s:
                case = s.exec(select(Case).where(Case.tracking_code == code)).one()
                service.record_contact(s, case=case, person_id=None, now=tl.now, settings=tl.settings, via="test")
        with real(**kwargs) as session:
            yield session

    monkeypatch.setattr(sweeper, "write_session", contact_first)
    return happened


def test_a_contact_between_preparing_and_writing_a_batch_means_no_page(db_url, demo, monkeypatch):
    tl = Timeline()
    code = tl.report()
    happened = _contact_before_the_write(monkeypatch, tl, code)
    delivered = tl.at(0)
    assert happened == ["contacted"]
    assert [p["kind"] for p in delivered] == ["resident_update"]  # the contact's own message, and no page
    with session_scope() as s:
        states = s.exec(select(CaseStep.kind, CaseStep.state)).all()
    assert ("page", "cancelled") in states and ("page", "done") not in states


def test_an_undisturbed_batch_is_written_from_its_prepared_rows(db_url, demo, monkeypatch):
    locked = []
    real = sweeper._sweep_batch
    monkeypatch.setattr(sweeper, "_sweep_batch", lambda **kw: locked.append(1) or real(**kw))
    tl = Timeline()
    tl.report()
    assert summary(tl.at(0)) == [("page", 0, "刘洋"), ("page", 0, "张伟")]
    assert locked == []  # the locked path was not needed


def test_a_step_that_must_write_mid_batch_runs_under_the_lock(db_url, demo, monkeypatch):
    """A vacant grid's page escalates at once, which reads the steps it has just written."""
    locked = []
    real = sweeper._sweep_batch
    monkeypatch.setattr(sweeper, "_sweep_batch", lambda **kw: locked.append(1) or real(**kw))
    tl = Timeline()
    tl.report("BY-RML-LZL-03")
    paged = summary(tl.at(0))
    assert locked and any(kind == "escalation" and level == 1 for kind, level, _ in paged), paged


def test_the_check_under_the_write_lock_reads_the_claimed_steps_by_key(db_url, demo):
    """The check reads the claimed rows by primary key, never by walking the pending-steps index: that index
    holds four rows per open case, and the check runs while intake waits for the lock."""
    tl = Timeline()
    for _ in range(3):
        tl.report()
    engine = get_engine()
    with recorded_statements(engine) as seen:
        assert sweeper.sweep_batch(settings=tl.settings, now=tl.now).ran == 3
    by_key = [(sql, params) for sql, params, many in seen
              if not many and sql.lstrip().upper().startswith("SELECT") and "FROM case_step" in sql
              and "case_step.id IN" in sql]
    assert by_key, seen
    with engine.connect() as conn:
        for sql, params in by_key:
            plan = sqlite_plan(conn, sql, params)
            assert "ix_case_step_state_due_at" not in plan, (sql, plan)
