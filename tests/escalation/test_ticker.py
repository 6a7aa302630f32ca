"""The ticker's wake-ups: a burst of new cases is swept in a few gathered passes, and is never starved."""

import threading
import time

import pytest

from app.config import get_settings
from app.escalation import scheduler, sweeper


@pytest.fixture
def counted_sweeps(db_url, monkeypatch):
    """A ticker whose own interval never fires during the test; the sweeps that wake-ups cause, with their times."""
    monkeypatch.setenv("MASHANG_SWEEP_INTERVAL_SECONDS", "3600")
    get_settings.cache_clear()
    times: list[float] = []

    def sweep(**_kwargs) -> int:
        times.append(time.monotonic())
        return 0

    monkeypatch.setattr(sweeper, "sweep", sweep)
    ticker = scheduler.Ticker(get_settings())
    ticker.start()
    deadline = time.monotonic() + 10
    while not times and time.monotonic() < deadline:  # the sweep that start() runs at once
        time.sleep(0.01)
    times.clear()
    yield ticker, times
    ticker.shutdown()


def _storm(ticker: scheduler.Ticker, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ticker.wake()
        time.sleep(0.01)


def test_a_stream_of_wake_ups_is_swept_in_a_few_gathered_passes(counted_sweeps):
    ticker, times = counted_sweeps
    _storm(ticker, 1.5)  # about 150 wake-ups, as a burst of intake commits gives
    time.sleep(4 * scheduler.WAKE_GATHER_SECONDS)
    assert 2 <= len(times) <= 1.5 / scheduler.WAKE_GATHER_SECONDS + 3, times


def test_wake_ups_keep_coming_but_never_push_the_sweep_back(counted_sweeps):
    ticker, times = counted_sweeps
    started = time.monotonic()
    storm = threading.Thread(target=_storm, args=(ticker, 2.0))
    storm.start()
    storm.join()
    assert times, "no sweep ran while wake-ups kept coming"
    assert times[0] - started < 1.0, "the first sweep waited far longer than the gathering time"


def test_a_wake_up_after_a_quiet_spell_sweeps_at_once():
    assert scheduler.wake_delay(now=100.0, last_started=None) == 0.0
    assert scheduler.wake_delay(now=100.0, last_started=100.0 - scheduler.WAKE_GATHER_SECONDS - 1) == 0.0


def test_a_wake_up_soon_after_a_sweep_began_waits_for_the_rest_of_the_interval():
    delay = scheduler.wake_delay(now=100.1, last_started=100.0)
    assert delay == pytest.approx(scheduler.WAKE_GATHER_SECONDS - 0.1)


def test_shutdown_while_a_sweep_keeps_waking_delivery_does_not_hang(db_url, monkeypatch):
    """APScheduler's shutdown holds the lock that a wake-up from a running sweep asks for."""
    monkeypatch.setenv("MASHANG_SWEEP_INTERVAL_SECONDS", "3600")
    get_settings.cache_clear()
    sweeping = threading.Event()

    def sweep(*, after_batch, stop, **_kwargs) -> int:
        while not stop():  # a real sweep looks at stop() between batches, then runs the batch
            sweeping.set()
            time.sleep(0.2)
            after_batch(1)  # and wakes delivery once the batch has committed
        return 0

    monkeypatch.setattr(sweeper, "sweep", sweep)
    ticker = scheduler.Ticker(get_settings())
    ticker.start()
    assert sweeping.wait(10)
    time.sleep(0.05)  # shutdown comes in the middle of a batch
    stopper = threading.Thread(target=ticker.shutdown, daemon=True)
    stopper.start()
    stopper.join(timeout=20)
    assert not stopper.is_alive(), "shutdown hung"
