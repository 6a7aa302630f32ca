"""A 201 for a report survives `kill -9` of the server; clients' retries after the restart write nothing twice.

One real `mashang serve` per backend takes reports from 8 client threads and is killed with SIGKILL mid-load,
then restarted on the same database; each client resends (same key, same body) every report it got no 201 for.
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bench.common import (
    create_pg_database,
    drop_pg_database,
    mashang_server,
    prepare_database,
    report_body,
    server_env,
)
from tests.conftest import PG_ADMIN_URL, missing

CLIENTS = 8
LOAD_SECONDS = 1.5
RETRY_SECONDS = 30
TIMEOUT = httpx.Timeout(10.0)
RETRYABLE = {409, 502, 503, 504}


@dataclass
class Report:
    """One report a client sent: its key and body, and the tracking codes it was answered with."""

    key: str
    body: dict
    first_code: str | None = None
    final_code: str | None = None


@dataclass
class CrashRun:
    """What the clients sent and were told, and what the database holds afterwards."""

    reports: list[Report]
    tracking_codes: list[str]
    unexpected: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[Report]:
        return [r for r in self.reports if r.first_code is not None]


def _post(client: httpx.Client, url: str, report: Report) -> httpx.Response:
    return client.post(f"{url}/api/v1/reports", json=report.body, headers={"Idempotency-Key": report.key})


def _send_until_killed(url: str, token: str, client_number: int, stop: threading.Event,
                       unexpected: list[str]) -> list[Report]:
    """POST new reports, each with its own key, until the server dies; every report sent and its 201, if any."""
    reports: list[Report] = []
    with httpx.Client(timeout=TIMEOUT) as client:
        while not stop.is_set():
            key = f"durable-{client_number}-{len(reports) + 1}"
            report = Report(key, report_body(token, description=f"楼道灯不亮了 {key}"))
            reports.append(report)
            try:
                answer = _post(client, url, report)
            except httpx.TransportError:
                break  # killed with this report in flight (or before it was sent): its answer never came
            if answer.status_code == 201:
                report.first_code = answer.json()["tracking_code"]
            else:
                unexpected.append(f"before the kill, {key}: {answer.status_code} {answer.text[:200]}")
    return reports


def _resend_all(url: str, reports: list[Report], deadline: float, unexpected: list[str]) -> None:
    """Send every report again (same key, same body) until it is answered 201, as a client's outbox would."""
    with httpx.Client(timeout=TIMEOUT) as client:
        for report in reports:
            while report.final_code is None:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{report.key} got no 201 within {RETRY_SECONDS} s of the restart")
                try:
                    answer = _post(client, url, report)
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if answer.status_code == 201:
                    report.final_code = answer.json()["tracking_code"]
                elif answer.status_code in RETRYABLE:
                    time.sleep(0.05)
                else:
                    unexpected.append(f"after the restart, {report.key}: {answer.status_code} {answer.text[:200]}")
                    break


def _tracking_codes(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT tracking_code FROM cases")).scalars())
    finally:
        engine.dispose()


def _crash_and_recover(database_url: str, workdir: Path) -> CrashRun:
    env = server_env(database_url, workdir=workdir)
    token = prepare_database(env, workdir=workdir)
    unexpected: list[str] = []
    stop = threading.Event()
    server = mashang_server(env, workdir=workdir)
    with ThreadPoolExecutor(CLIENTS) as pool:
        try:
            server.start()
            senders = [pool.submit(_send_until_killed, server.url, token, n, stop, unexpected)
                       for n in range(1, CLIENTS + 1)]
            time.sleep(LOAD_SECONDS)
        finally:
            server.kill()  # first, so the clients are mid-request when it dies
            stop.set()
        per_client = [sender.result(timeout=30) for sender in senders]
    restarted = mashang_server(env, workdir=workdir)
    try:
        restarted.start()
        deadline = time.monotonic() + RETRY_SECONDS
        with ThreadPoolExecutor(CLIENTS) as pool:
            resenders = [pool.submit(_resend_all, restarted.url, reports, deadline, unexpected)
                         for reports in per_client]
            for resender in resenders:
                resender.result(timeout=RETRY_SECONDS + 15)
    finally:
        restarted.kill()  # a graceful stop is not what this test is about, and it may wait for the scheduler
    reports = [report for reports in per_client for report in reports]
    return CrashRun(reports, _tracking_codes(database_url), unexpected)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crash_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashRun]:
    """The scenario, run once per backend."""
    workdir = tmp_path_factory.mktemp(f"durability-{request.param}")
    if request.param == "sqlite":
        yield _crash_and_recover(f"sqlite:///{workdir / 'mashang.db'}", workdir)
        return
    try:
        database_url = create_pg_database(PG_ADMIN_URL, prefix="mashang_durability")
    except Exception as exc:  # noqa: BLE001 - any failure means there is no Postgres to test on
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    try:
        yield _crash_and_recover(database_url, workdir)
    finally:
        drop_pg_database(PG_ADMIN_URL, database_url)


def test_load_was_acknowledged_before_the_kill(crash_run: CrashRun):
    assert len(crash_run.acknowledged) >= CLIENTS, f"only {len(crash_run.acknowledged)} reports answered 201"


def test_no_report_is_refused_before_or_after_the_crash(crash_run: CrashRun):
    assert crash_run.unexpected == []


def test_every_report_acknowledged_before_kill_9_is_in_the_database(crash_run: CrashRun):
    stored = set(crash_run.tracking_codes)
    lost = [r.key for r in crash_run.acknowledged if r.first_code not in stored]
    assert lost == [], f"{len(lost)} of {len(crash_run.acknowledged)} acknowledged reports lost: {lost[:10]}"


def test_retries_after_restart_write_each_report_exactly_once(crash_run: CrashRun):
    keys = {r.key for r in crash_run.reports}
    assert len(crash_run.tracking_codes) == len(set(crash_run.tracking_codes)) == len(keys)
    assert {r.final_code for r in crash_run.reports} == set(crash_run.tracking_codes)


def test_replay_after_restart_answers_the_first_tracking_code(crash_run: CrashRun):
    changed = [(r.key, r.first_code, r.final_code) for r in crash_run.acknowledged if r.final_code != r.first_code]
    assert changed == []

