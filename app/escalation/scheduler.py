"""The in-process ticker (APScheduler): sweep due steps, deliver the outbox, audit, purge.

Deadlines live in the database; this only decides when to look. Every instance runs one.
"""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from app import clock, health
from app.config import Settings
from app.db import get_engine, session_scope
from app.escalation import sweeper
from app.paging.sender import Sender
from app.reports import intake

log = logging.getLogger("mashang.scheduler")
# A tick that finds the previous run still going is skipped (max_instances=1): by design, not worth a warning
# a second while a backlog is swept. The audit job reports a scheduler that really falls behind.
logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
AUDIT_LOCK_KEY = 727_002
STALL_GRACE_SECONDS = 10
# Woken sweeps start at most this often: a wake-up after a quiet spell sweeps at once, one during a burst waits
# for the rest of the interval, and the cases committed meanwhile join that sweep. A sweep's cost is mostly per
# batch (claim, load, commit): sweeping after every intake commit of a burst cost several times more CPU per
# page than one sweep a quarter second. A quarter second on a 30-minute deadline is nothing.
WAKE_GATHER_SECONDS = 0.25
SHUTDOWN_WAIT_SECONDS = 30


def wake_delay(*, now: float, last_started: float | None) -> float:
    """Seconds until a woken sweep may start (monotonic clock): none after a quiet spell."""
    if last_started is None:
        return 0.0
    return max(0.0, last_started + WAKE_GATHER_SECONDS - now)


class Ticker:
    def __init__(self, settings: Settings, sender: Sender | None = None) -> None:
        self.settings = settings
        self.sender = sender or Sender(settings)
        self._stopping = threading.Event()
        # A wake-up while the job runs is kept in a flag that the running loop reads before it ends, rather
        # than asked of APScheduler, which would skip it (max_instances=1) and log a warning each time.
        self._sweep_wanted = threading.Event()
        self._deliver_wanted = threading.Event()
        self._sweeping = threading.Event()
        self._sweep_started: float | None = None  # monotonic
        self._delivering = threading.Event()
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
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs, and a sweep that is
        # waking delivery asks for that lock: let the sweep and delivery loops end first (they see _stopping
        # between batches and then call the scheduler no more).
        deadline = time.monotonic() + SHUTDOWN_WAIT_SECONDS
        while (self._sweeping.is_set() or self._delivering.is_set()) and time.monotonic() < deadline:
            time.sleep(0.01)
        self.scheduler.shutdown(wait=True)
        health.scheduler_status["running"] = False

    def wake(self, *_: object) -> None:
        """Sweep now, or once WAKE_GATHER_SECONDS have passed since the last sweep began (see wake_delay)."""
        self._sweep_wanted.set()
        if not self._sweeping.is_set():
            self._run_soon("sweep", wake_delay(now=time.monotonic(), last_started=self._sweep_started))

    def _run_soon(self, job_id: str, delay_seconds: float = 0.0) -> None:
        """Run the job within delay_seconds; never later than it was due already (a stream of wake-ups must not
        keep pushing it back)."""
        if self._stopping.is_set():  # see shutdown
            return
        soon = datetime.now(UTC) + timedelta(seconds=delay_seconds)
        try:
            job = self.scheduler.get_job(job_id)
            if job is not None and job.next_run_time is not None and job.next_run_time <= soon:
                return
            self.scheduler.modify_job(job_id, next_run_time=soon)
        except Exception:  # noqa: BLE001 - the next tick comes anyway
            log.debug("could not wake %s", job_id, exc_info=True)

    def sweep(self) -> None:
        self._sweeping.set()
        try:
            while not self._stopping.is_set():
                self._sweep_wanted.clear()
                self._sweep_started = time.monotonic()
                sweeper.sweep(settings=self.settings, stop=self._stopping.is_set, after_batch=self.wake_delivery)
                # Woken meanwhile: gather as a fresh wake-up would, then sweep again (a stop cuts the wait short).
                delay = wake_delay(now=time.monotonic(), last_started=self._sweep_started)
                if not self._sweep_wanted.is_set() or self._stopping.wait(delay):
                    break
        except Exception:  # noqa: BLE001
            log.exception("sweep failed; the next tick retries")
        finally:
            self._sweeping.clear()

    def wake_delivery(self, ran: int = 1) -> None:
        """A sweep batch committed notifications: deliver them now, not after the whole sweep or the next tick."""
        if ran > 0:
            self._deliver_wanted.set()
            if not self._delivering.is_set():
                self._run_soon("deliver")

    def deliver(self) -> None:
        self._delivering.set()
        try:
            while not self._stopping.is_set():
                # A wake-up while this loop runs (max_instances=1 skips the job) is not lost: the flag keeps it.
                # A round that took less than a full batch took everything due: the next waits for a wake-up
                # (each sweep batch sends one) rather than claiming the few notifications made meanwhile.
                self._deliver_wanted.clear()
                if self.sender.deliver_due() > 0 and self.sender.more_due:
                    continue
                if not self._deliver_wanted.is_set():
                    break
        except Exception:  # noqa: BLE001
            log.exception("delivery failed; the next tick retries")
        finally:
            self._delivering.clear()

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
        from app.reports.attachments import purge_orphans
        from app.reports.models import IdempotencyKey
        from app.reports.ratelimit import purge as purge_counters

        try:
            with session_scope() as session:
                auth_service.purge_expired(session)
                session.exec(IdempotencyKey.__table__.delete().where(IdempotencyKey.expires_at < clock.now()))
                purge_counters(session.connection(), now=clock.now())
                purge_orphans(session, media_dir=self.settings.media_dir)
        except Exception:  # noqa: BLE001
            log.exception("purge failed")
