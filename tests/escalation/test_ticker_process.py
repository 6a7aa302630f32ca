"""`mashang serve` runs one ticker process beside its workers: it pages, it is restarted, it goes with serve."""

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from bench.common import is_ticker, mashang_server, prepare_database, server_env
from tests.escalation.receiver import Receiver


def _tickers(root: psutil.Process) -> list[psutil.Process]:
    return [p for p in root.children(recursive=True) if is_ticker(p)]


def _wait(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


SLOW_START = """import sys, time
if "ticker" in sys.argv:
    time.sleep(3)  # a ticker that takes its time to start, as on a loaded machine
"""


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest):
    """A `mashang serve --workers 2` on its own SQLite database, paging a local webhook receiver."""
    url = f"sqlite:///{tmp_path / 'ticker.db'}"
    extra = {}
    if request.node.get_closest_marker("slow_ticker_start"):
        (tmp_path / "site").mkdir()
        (tmp_path / "site" / "sitecustomize.py").write_text(SLOW_START)
        extra["PYTHONPATH"] = str(tmp_path / "site")
    with Receiver() as receiver:
        env = server_env(url, workdir=tmp_path, extra={"MASHANG_PAGER_WEBHOOK_URL": receiver.url,
                                                       "MASHANG_PAGER_MIN_INTERVAL_SECONDS": "0"})
        env.update(extra)
        token = prepare_database(env, workdir=tmp_path)
        server = mashang_server(env, workdir=tmp_path, workers=2)
        with server.start():
            yield server, receiver, token


def _report(server, token: str) -> str:
    answer = httpx.post(f"{server.url}/api/v1/reports", timeout=10, json={
        "grid_token": token, "category": "repairs", "description": "楼道灯坏了", "contact_phone": "13912345678"})
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_code"]


def _paged(receiver: Receiver, code: str) -> bool:
    return any(d.payload["kind"] == "page" and d.payload["case"]["tracking_code"] == code
               for d in receiver.deliveries())


def test_two_workers_share_one_ticker_process_that_pages_new_cases(served):
    server, receiver, token = served
    assert len(_tickers(psutil.Process(server.process.pid))) == 1
    code = _report(server, token)
    _wait(lambda: _paged(receiver, code), timeout=10, what="the page of a new case")


@pytest.mark.slow_ticker_start
def test_serve_answers_only_once_its_ticker_runs(served):
    """The first /healthz that answers already sees the ticker running: a report made then is swept."""
    server, _, _ = served
    status = httpx.get(f"{server.url}/healthz").json()["scheduler"]
    assert status["running"] is True and status["process"] == "separate" and status["stalled_steps"] == []


def test_a_ticker_that_dies_is_started_again_and_pages_what_came_meanwhile(served):
    server, receiver, token = served
    root = psutil.Process(server.process.pid)
    first = _tickers(root)[0]
    first.send_signal(signal.SIGKILL)
    code = _report(server, token)  # committed while no ticker runs: the new one's sweep finds it
    _wait(lambda: [p for p in _tickers(root) if p.pid != first.pid], timeout=15, what="a new ticker process")
    _wait(lambda: _paged(receiver, code), timeout=15, what="the page of the case reported meanwhile")


def test_stopping_serve_stops_its_ticker(served):
    server, _, _ = served
    ticker = _tickers(psutil.Process(server.process.pid))[0]
    os.kill(server.process.pid, signal.SIGTERM)  # serve alone, not its process group
    server.process.wait(timeout=30)
    _wait(lambda: not ticker.is_running() or ticker.status() == psutil.STATUS_ZOMBIE, timeout=20,
          what="the ticker to stop")


def test_a_ticker_whose_serve_was_killed_stops_by_itself(served):
    server, _, _ = served
    ticker = _tickers(psutil.Process(server.process.pid))[0]
    os.kill(server.process.pid, signal.SIGKILL)  # no chance to stop it: the ticker sees its parent go
    server.process.wait(timeout=10)
    _wait(lambda: not ticker.is_running() or ticker.status() == psutil.STATUS_ZOMBIE, timeout=20,
          what="the orphaned ticker to stop")
