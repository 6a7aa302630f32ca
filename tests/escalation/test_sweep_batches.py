"""A sweep gathers: it ends after a batch that took everything due, and goes on while a batch made more due."""

from datetime import timedelta

import pytest

from app.escalation import sweeper
from tests.escalation.harness import Timeline

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def test_a_batch_that_took_everything_due_ends_the_sweep(db_url, demo):
    tl = Timeline()
    tl.report()
    tl.report(description="第二件事")
    assert sweeper.sweep_batch(settings=tl.settings, now=tl.now, limit=1) == sweeper.Swept(1, True)  # full
    assert sweeper.sweep_batch(settings=tl.settings, now=tl.now, limit=5) == sweeper.Swept(1, False)
    assert sweeper.sweep_batch(settings=tl.settings, now=tl.now) == sweeper.Swept(0, False)


def test_a_batch_that_makes_a_step_due_now_sweeps_again(db_url, demo):
    """A vacant grid's page skips to the community at once: that step is due in the same sweep."""
    tl = Timeline()
    tl.report("BY-RML-LZL-03")
    first = sweeper.sweep_batch(settings=tl.settings, now=tl.now)
    assert first.ran == 1 and first.more
    assert sweeper.sweep(settings=tl.settings, now=tl.now) >= 1  # the escalation brought forward


def test_after_downtime_the_overdue_levels_all_run_in_one_sweep(db_url, demo):
    """Each escalation made the next level's due already: one sweep call runs them all."""
    tl = Timeline()
    tl.report()
    tl.at(0)
    tl.now += timedelta(hours=2)
    assert sweeper.sweep(settings=tl.settings, now=tl.now) >= 3  # warning, level 1, level 2
    assert sweeper.sweep_batch(settings=tl.settings, now=tl.now) == sweeper.Swept(0, False)  # nothing left due


def test_a_batch_holds_sqlites_write_lock_for_at_most_sqlite_batch_steps(db_url, demo, backend):
    """SQLite has one write lock, which intake waits for: its batches are smaller than Postgres's."""
    tl = Timeline()
    for n in range(sweeper.SQLITE_BATCH + 20):
        tl.report(description=f"第{n}件事", contact_phone=f"139{n:08d}")  # each from another phone: no limit
    expected = sweeper.SQLITE_BATCH if backend == "sqlite" else sweeper.SQLITE_BATCH + 20
    assert sweeper.BATCH > sweeper.SQLITE_BATCH + 20
    assert sweeper.sweep_batch(settings=tl.settings, now=tl.now).ran == expected
