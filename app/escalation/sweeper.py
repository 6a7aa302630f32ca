"""The sweep: claim due steps (SKIP LOCKED on Postgres, BEGIN IMMEDIATE on SQLite), run each once."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from app import clock
from app.bulk import execute
from app.config import Settings
from app.db import get_engine, write_session
from app.escalation import service
from app.escalation.models import CaseStep, StepState

steps_table = CaseStep.__table__

log = logging.getLogger("mashang.sweep")
# Steps per transaction. On SQLite intake waits for the one write lock while a batch's rows are written: a batch
# of 100 holds it half as long as one of 200, for the same CPU per step (bench_intake, indicative: intake p99
# 78-90 ms against 80-102 ms with 200, at the same throughput). Postgres has no such lock: 200 there.
BATCH = 200
SQLITE_BATCH = 100
RETRY_FAILED_STEP = timedelta(seconds=30)


def _claim_query(dialect_name: str, now: datetime, limit: int):
    st = steps_table.c
    query = (select(*service.STEP_COLUMNS).where(st.state == StepState.pending.value, st.due_at <= now)
             .order_by(st.due_at, st.id).limit(limit))
    if dialect_name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return query


def _claim(session: Session, now: datetime, limit: int) -> list:
    conn = session.connection()
    return conn.execute(_claim_query(conn.dialect.name, now, limit)).all()


def sweep_once(*, settings: Settings, now: datetime | None = None, limit: int | None = None) -> int:
    """Run up to limit due steps in one transaction; how many ran (see sweep_batch)."""
    return sweep_batch(settings=settings, now=now, limit=limit).ran


@dataclass(frozen=True)
class Swept:
    ran: int
    more: bool  # a full batch, or one that brought a step forward to now: sweep again at once

    @classmethod
    def of(cls, ran: int, *, limit: int, made_due: bool) -> "Swept":
        return cls(ran, ran >= limit or made_due)


def sweep_batch(*, settings: Settings, now: datetime | None = None, limit: int | None = None) -> Swept:
    """Run up to limit due steps in one transaction; a failing step is retried later, never stops the rest.

    The batch is first run whole, its data loaded with a few queries and no savepoint per step; if anything in
    it fails, that transaction is rolled back and the batch is run again step by step, each in a savepoint.
    On SQLite the whole batch is first prepared outside the write lock (see _sweep_prepared). limit: BATCH, or
    SQLITE_BATCH on SQLite.
    """
    now = now or clock.now()
    sqlite = get_engine().dialect.name == "sqlite"
    if limit is None:
        limit = SQLITE_BATCH if sqlite else BATCH
    try:
        swept = None
        if sqlite:
            swept = _sweep_prepared(settings=settings, now=now, limit=limit)
        if swept is None:
            swept = _sweep_batch(settings=settings, now=now, limit=limit)
    except Exception:  # noqa: BLE001 - the careful path below finds the step that failed
        log.warning("a sweep batch failed; running its steps one by one", exc_info=True)
        swept = _sweep_step_by_step(settings=settings, now=now, limit=limit)
    return swept


def _sweep_prepared(*, settings: Settings, now: datetime, limit: int) -> Swept | None:
    """SQLite: run the batch's steps on a read snapshot, then take the write lock only to write what they did.

    SQLite has one writer for the whole file, and intake waits for it: a batch run under the lock held it for
    all of its Python work. Here the lock is held for a check and the inserts. The check: every claimed step is
    still pending. Whatever could make a prepared step wrong (a contact, a close, an acknowledgement) cancels
    pending steps in the same transaction, so a batch that passes it is what a locked run would have written.
    None: run the batch under the lock instead (a step moved meanwhile, or one needed to write mid-batch).
    """
    with Session(get_engine(), expire_on_commit=False, autoflush=False) as reader:
        steps = _claim(reader, now, limit)
        if not steps:
            return Swept(0, False)
        batch = service.StepBatch(reader, steps, settings)
        service.defer_writes(reader)
        try:
            states = [(step.id, service.run_step(reader, step=step, now=now, settings=settings, batch=batch))
                      for step in steps]
        except service.WriteDeferred:
            return None
        if reader.new or reader.deleted or reader.dirty:
            return None
        # Every value converted for the driver now, so that the lock is held for the statements alone.
        dialect = reader.get_bind().dialect
        ids = [step.id for step in steps]
        writes = [service.mark_steps(dialect, states, now), *service.prepare_bulk(dialect, service.take_bulk(reader))]
        made_due = service.took_due_now(reader)
        reader.rollback()  # nothing was written: this ends the read snapshot
    with write_session() as writer:
        conn = writer.connection()
        st = steps_table.c
        # The states of the claimed rows by primary key, counted here: with "AND state = 'pending'" in the query
        # SQLite searched the (state, due_at) index instead, every pending step (four per open case) in the lock.
        states = conn.execute(select(st.state).where(st.id.in_(ids))).scalars().all()
        if len(states) != len(ids) or any(state != StepState.pending.value for state in states):
            writer.rollback()
            return None
        for prepared in writes:
            execute(conn, prepared)
        writer.commit()
    return Swept.of(len(steps), limit=limit, made_due=made_due)


def _sweep_batch(*, settings: Settings, now: datetime, limit: int) -> Swept:
    with write_session() as session:
        steps = _claim(session, now, limit)
        if not steps:
            session.commit()
            return Swept(0, False)
        batch = service.StepBatch(session, steps, settings)
        service.begin_bulk(session)
        states = [(step.id, service.run_step(session, step=step, now=now, settings=settings, batch=batch))
                  for step in steps]
        service.write_bulk(session)
        session.flush()  # what a vacant post's steps changed through the ORM, before the marks
        execute(session.connection(), service.mark_steps(session.get_bind().dialect, states, now))
        session.commit()
        return Swept.of(len(steps), limit=limit, made_due=service.took_due_now(session))


def _sweep_step_by_step(*, settings: Settings, now: datetime, limit: int) -> Swept:
    st = steps_table.c
    with write_session() as session:
        steps = _claim(session, now, limit)
        for step in steps:
            try:
                with session.begin_nested():
                    state = service.run_step(session, step=step, now=now, settings=settings)
                    session.flush()
                    session.execute(update(steps_table).where(st.id == step.id).values(state=state, done_at=now))
            except Exception:  # noqa: BLE001 - one bad case must not stall every other
                log.exception("step %s (%s, case %s) failed; retrying in %ss", step.id, step.kind, step.case_id,
                              RETRY_FAILED_STEP.seconds)
                session.execute(update(steps_table).where(st.id == step.id).values(due_at=now + RETRY_FAILED_STEP))
        session.commit()
        return Swept.of(len(steps), limit=limit, made_due=service.took_due_now(session))


def sweep(*, settings: Settings, now: datetime | None = None, stop: Callable[[], bool] | None = None,
          after_batch: Callable[[int], None] | None = None) -> int:
    """Run every due step, in batches, until stop() says so; steps brought forward to now by a batch included.

    A batch that was not full took every step due when it began: the sweep ends there, and the steps of cases
    committed meanwhile wait for the next one (the ticker starts it within WAKE_GATHER_SECONDS of this one).
    Sweeping on while reports keep coming cost a batch of a few steps each time: the same queries, commit and
    write lock for each, where one gathered batch serves a few hundred.
    after_batch(ran) is called once each batch has committed (the ticker wakes delivery with it).
    """
    total = 0
    for _ in range(1000):
        if stop is not None and stop():
            break
        swept = sweep_batch(settings=settings, now=now)
        total += swept.ran
        if after_batch is not None and swept.ran > 0:
            after_batch(swept.ran)
        if not swept.more:
            break
    return total


def overdue(*, now: datetime | None = None, grace_seconds: int = 10) -> tuple[float | None, int, list[int]]:
    """(lag of the oldest due step in seconds, how many are overdue by more than grace, a few of their ids)."""
    now = now or clock.now()
    with Session(get_engine()) as session:
        oldest = session.exec(select(func.min(CaseStep.due_at)).where(CaseStep.state == StepState.pending,
                                                                       CaseStep.due_at <= now)).one()
        limit = now - timedelta(seconds=grace_seconds)
        stalled = session.exec(select(CaseStep.id).where(CaseStep.state == StepState.pending,
                                                         CaseStep.due_at <= limit).order_by(CaseStep.due_at)
                               .limit(20)).all()
        count = session.exec(select(func.count()).select_from(CaseStep).where(
            CaseStep.state == StepState.pending, CaseStep.due_at <= limit)).one() if stalled else 0
    lag = None if oldest is None else max(0.0, (now - clock.as_utc(oldest)).total_seconds())
    return lag, count, list(stalled)
