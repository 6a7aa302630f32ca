"""The in-process ticker (APScheduler): sweep due steps, deliver the outbox, audit, purge.

Deadlines live in the database; this only decides when to look. Every instance runs one.
"""

import logging
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from app import clock, health
from app.config import Settings
from app.db import get_engine, session_scope
from app.escalation import sweeper
from app.paging.sender import Sender
from app.reports import intake

log = logging.getLogger("mashang.scheduler")
AUDIT_LOCK_KEY = 727_002
STALL_GRACE_SECONDS = 10


class Ticker:
    def __init__(self, settings: Settings, sender: Sender | None = None) -> None:
        self.settings = settings
        self.sender = sender or Sender(settings)
        self._stopping = threading.Event()
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"max_instances": 1, "coalesce": True,
                                                                         "misfire_grace_time": 30})

    def start(self) -> None:
        every = self.settings.sweep_interval_seconds
        now = datetime.now(UTC)
        self.scheduler.add_job(self.sweep, "interval", seconds=every, id="sweep", next_run_time=now)
        self.scheduler.add_job(self.deliver, "interval", seconds=every, id="deliver", next_run_time=now)
        self.scheduler.add_job(self.audit, "interval", seconds=5, id="audit", next_run_time=now)
        self.scheduler.add_job(self.purge, "interval", seconds=3600, id="purge", next_run_time=now)
        self.scheduler.start()
        intake.after_commit_hooks.append(self.wake)
        health.scheduler_status["running"] = True

    def shutdown(self) -> None:
        """Stop between batches (a long backlog must not hold a restart up), then wait for the running job."""
        self._stopping.set()
        if self.wake in intake.after_commit_hooks:
            intake.after_commit_hooks.remove(self.wake)
        self.scheduler.shutdown(wait=True)
        health.scheduler_status["running"] = False

    def wake(self, *_: object) -> None:
        """Run the sweep now (a new case's first page does not wait for the next tick)."""
        self._run_now("sweep")

    def _run_now(self, job_id: str) -> None:
        try:
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the next tick comes anyway
            log.debug("could not wake %s", job_id, exc_info=True)

    def sweep(self) -> None:
        try:
            if sweeper.sweep(settings=self.settings, stop=self._stopping.is_set) > 0:
                self._run_now("deliver")
        except Exception:  # noqa: BLE001
            log.exception("sweep failed; the next tick retries")

    def deliver(self) -> None:
        try:
            while not self._stopping.is_set() and self.sender.deliver_due() > 0:
                pass
        except Exception:  # noqa: BLE001
            log.exception("delivery failed; the next tick retries")

    def audit(self) -> None:
        """Find steps overdue by more than a few seconds; report them in the log and /healthz."""
        try:
            lag, count, sample = sweeper.overdue(grace_seconds=STALL_GRACE_SECONDS)
        except Exception:  # noqa: BLE001
            log.exception("audit failed")
            return
        health.scheduler_status.update({"lag_seconds": lag, "stalled_steps": sample, "stalled_count": count,
                                        "audited_at": clock.now().isoformat()})
        if count and self._audit_lock():
            log.warning("scheduler stalled: %d step(s) overdue by more than %ds (e.g. %s)", count,
                        STALL_GRACE_SECONDS, sample[:5])

    def _audit_lock(self) -> bool:
        """One instance at a time reports stalls (Postgres advisory lock; SQLite has one instance)."""
        engine = get_engine()
        if engine.dialect.name != "postgresql":
            return True
        with engine.begin() as conn:
            return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY}).scalar())

    def purge(self) -> None:
        from app.auth import service as auth_service
        from app.reports.models import IdempotencyKey
        from app.reports.ratelimit import purge as purge_counters

        try:
            with session_scope() as session:
                auth_service.purge_expired(session)
                session.exec(IdempotencyKey.__table__.delete().where(IdempotencyKey.expires_at < clock.now()))
                purge_counters(session.connection(), now=clock.now())
        except Exception:  # noqa: BLE001
            log.exception("purge failed")
