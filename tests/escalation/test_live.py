"""The escalation engine in real `mashang serve` processes, paging a local webhook receiver on the wall clock.

Each scenario runs once per backend (a module fixture) and the tests below read what it left: the receiver's
requests and the database. Scenarios run side by side in threads, each with its own server(s), receiver and
database copied from a migrated template holding the demo city; the load scenarios start once the
timing-sensitive ones are done, so that their CPU does not disturb them. Timings belong to the controlled-clock
tests (test_timeline.py); these assert presence, order and counts.
"""

import contextlib
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from app.escalation.models import CaseStep
from app.grids.models import Grid, GridToken
from app.paging.models import DeliveryAttempt, Notification
from app.reports.models import Case, CaseEvent
from bench import common
from bench.common import Server, create_pg_database, drop_pg_database, mashang_server, prepare_database
from tests.conftest import PG_ADMIN_URL, missing
from tests.escalation.receiver import Delivery, Receiver

SECRET = "live-test-webhook-secret"
WORKER_GRID = "BY-RML-GYL-01"
WORKER, BACKUP = "+8613800000101", "+8613800000102"
DISPATCHER, SUPERVISOR = "+8613800000011", "+8613800000001"
RESIDENT = "+8613912345678"
DEMO_GRIDS = ["BY-RML-GYL-01", "BY-RML-GYL-02", "BY-RML-GYL-03", "BY-RML-LZL-01", "BY-RML-LZL-02", "BY-RML-LZL-03"]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SCENARIO_TIMEOUT = 240
JSON_ACCEPT = {"Accept": "application/json"}
CASES_ON_TWO_INSTANCES = 500
# Taken once, in the main thread: scenario threads must not iterate os.environ while fixtures monkeypatch it.
BASE_ENV: Mapping[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("MASHANG_")}


def server_env(database_url: str, *, workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A server's environment: no MASHANG_* of ours, then the test settings."""
    return common.server_env(database_url, workdir=workdir, extra=extra, base=BASE_ENV)


# --- databases: a migrated template with the demo city per backend, a copy per scenario ---

class Unavailable(Exception):
    """The backend cannot be used here (no Postgres): the tests skip, or fail under CI."""


class Databases:
    """`mashang migrate` + `mashang demo` once per backend, then a cheap copy for each scenario; dropped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._locks = {"sqlite": threading.Lock(), "postgres": threading.Lock()}
        self._templates: dict[str, str | Unavailable] = {}
        self._pg_databases: list[str] = []

    def copy(self, backend: str, name: str) -> str:
        """A fresh database URL for one scenario, with the demo city loaded."""
        with self._locks[backend]:
            template = self._templates.get(backend)
            if template is None:
                template = self._templates[backend] = self._template(backend)
            if isinstance(template, Unavailable):
                raise template
            if backend == "sqlite":
                target = self.workdir / f"{name}.db"
                with sqlite3.connect(make_url(template).database) as source, sqlite3.connect(target) as copy:
                    source.backup(copy)
                return f"sqlite:///{target}"
            url = create_pg_database(PG_ADMIN_URL, prefix=f"mashang_live_{name}", template=template)
            self._pg_databases.append(url)
            return url

    def _template(self, backend: str) -> str | Unavailable:
        """Migrate and load the demo city into a new database; Unavailable if Postgres is not there."""
        if backend == "sqlite":
            url = f"sqlite:///{self.workdir / 'template.db'}"
        else:
            try:
                url = create_pg_database(PG_ADMIN_URL, prefix="mashang_live_template")
            except Exception as exc:  # noqa: BLE001 - any failure means there is no Postgres to test on
                return Unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
            self._pg_databases.append(url)
        prepare_database(server_env(url, workdir=self.workdir), workdir=self.workdir)
        return url

    def drop_all(self) -> None:
        """Drop every Postgres database made here (the copies first, then the template)."""
        for url in reversed(self._pg_databases):
            drop_pg_database(PG_ADMIN_URL, url)


# --- helpers: the database, the server, waiting ---

def fetch(database_url: str, statement: Executable) -> list:
    """Rows of one statement, typed by the app's tables (aware UTC datetimes on both backends)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def grid_tokens(database_url: str) -> dict[str, str]:
    """Each grid's current resident-link token, by grid code."""
    rows = fetch(database_url, select(Grid.code, GridToken.token).join(GridToken, GridToken.grid_id == Grid.id)
                 .where(GridToken.replaced_at.is_(None)))
    return {code: token for code, token in rows}


def live_env(database_url: str, workdir: Path, receiver: Receiver, *, sla: float, repage: float, lead: float,
             step: float) -> dict[str, str]:
    """A test server's environment: short escalation timings, the webhook pointing at the receiver.

    The gateway's once-a-minute pacing per phone is lifted: on a seconds scale it would coalesce every step
    (test_pacing.py covers it on the controlled clock).
    """
    return server_env(database_url, workdir=workdir, extra={
        "MASHANG_CONTACT_SLA_SECONDS": str(sla), "MASHANG_REPAGE_SECONDS": str(repage),
        "MASHANG_WARNING_LEAD_SECONDS": str(lead), "MASHANG_ESCALATION_STEP_SECONDS": str(step),
        "MASHANG_PAGER_WEBHOOK_URL": receiver.url, "MASHANG_PAGER_WEBHOOK_SECRET": SECRET,
        "MASHANG_RATE_LIMITS": "off", "MASHANG_SWEEP_INTERVAL_SECONDS": "0.2",
        "MASHANG_PAGER_MIN_INTERVAL_SECONDS": "0"})


def create_report(client: httpx.Client, server_url: str, token: str, *, description: str = "楼道灯坏了，老人晚上看不见"
                  ) -> dict:
    """POST a resident's report; its 201 answer."""
    answer = client.post(f"{server_url}/api/v1/reports", json={
        "grid_token": token, "category": "repairs", "description": description, "contact_phone": "139 1234 5678"})
    assert answer.status_code == 201, answer.text
    return answer.json()


@contextlib.contextmanager
def client_per_thread(*, timeout: float = 30) -> Iterator[Callable[[], httpx.Client]]:
    """A function giving each calling thread an httpx.Client of its own, all closed at the end.

    One client shared by a thread pool failed now and then with "[Errno 9] Bad file descriptor" on a read:
    its connection pool is not made for concurrent use from several threads.
    """
    local, made, lock = threading.local(), [], threading.Lock()

    def client() -> httpx.Client:
        own = getattr(local, "client", None)
        if own is None:
            own = local.client = httpx.Client(timeout=timeout)
            with lock:
                made.append(own)
        return own

    try:
        yield client
    finally:
        for own in made:
            own.close()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.1) -> None:
    """Poll condition until it holds; AssertionError naming what after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def case_id(database_url: str, tracking_code: str) -> int:
    """The case's primary key."""
    return fetch(database_url, select(Case.id).where(Case.tracking_code == tracking_code))[0][0]


def pending_notifications(database_url: str, case: int | None = None) -> int:
    """Notifications not delivered yet (all, or one case's)."""
    query = select(func.count()).select_from(Notification).where(Notification.state == "pending")
    if case is not None:
        query = query.where(Notification.case_id == case)
    return fetch(database_url, query)[0][0]


def of_case(deliveries: list[Delivery], tracking_code: str) -> list[Delivery]:
    """The requests about one case."""
    return [d for d in deliveries if d.payload["case"]["tracking_code"] == tracking_code]


def is_step(delivery: Delivery, kind: str, level: int, phone: str | None = None) -> bool:
    """The request is this kind of notification, at this level (to this phone)."""
    payload = delivery.payload
    return payload["kind"] == kind and payload["level"] == level and (
        phone is None or payload["recipient"]["phone"] == phone)


def on_server(ack_url: str, server_url: str) -> str:
    """The ack link's path on the server under test (see test_ack_url_points_at_the_port_the_server_listens_on)."""
    return server_url + urlsplit(ack_url).path


def logical_keys(database_url: str) -> dict[str, tuple]:
    """Each notification id and its logical identity: (case, kind, level, person, step)."""
    rows = fetch(database_url, select(Notification.id, Notification.case_id, Notification.kind, Notification.level,
                                      Notification.person_id, Notification.step_id))
    return {row[0]: tuple(row[1:]) for row in rows}


def ids_per_logical_notification(database_url: str, deliveries: list[Delivery]) -> dict[tuple, set[str]]:
    """The distinct payload ids the receiver got for each logical notification."""
    keys = logical_keys(database_url)
    seen: dict[tuple, set[str]] = defaultdict(set)
    for delivery in deliveries:
        seen[keys.get(delivery.id, ("unknown id", delivery.id))].add(delivery.id)
    return seen


def stop_all(servers: list[Server]) -> None:
    """Stop servers side by side (each may take its grace period)."""
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.stop(), servers))


# --- scenario a: one case from page to contact ---

@dataclass(frozen=True)
class Walk:
    database_url: str
    server_url: str
    tracking_code: str
    report: dict
    deliveries: list[Delivery]
    contacted_at: float  # time.time() when POST {ack_url}/contact was answered


def run_walk(database_url: str, workdir: Path) -> Walk:
    """Page, re-page, warn, escalate twice; then every recipient acks and the worker records the contact."""
    with Receiver() as receiver:
        env = live_env(database_url, workdir, receiver, sla=5, repage=1, lead=2, step=2)
        server = mashang_server(env, workdir=workdir)
        try:
            server.start()
            with httpx.Client(timeout=10) as client:
                report = create_report(client, server.url, grid_tokens(database_url)[WORKER_GRID])
                code = report["tracking_code"]
                seen = receiver.wait_for(lambda ds: any(is_step(d, "escalation", 2) for d in of_case(ds, code)),
                                         timeout=30, what="level-2 escalation")
                ack_urls = {d.payload["recipient"]["phone"]: d.payload["ack_url"] for d in of_case(seen, code)
                            if "ack_url" in d.payload}
                for ack_url in ack_urls.values():
                    answer = client.post(on_server(ack_url, server.url), headers=JSON_ACCEPT)
                    assert answer.status_code == 200, answer.text
                # Whatever was queued before the acks goes out first, so "after the contact" is unambiguous.
                wait_until(lambda: pending_notifications(database_url) == 0, timeout=20, what="outbox drained")
                answer = client.post(on_server(ack_urls[WORKER], server.url) + "/contact", headers=JSON_ACCEPT)
                assert answer.status_code == 200 and answer.json()["status"] == "contacted", answer.text
                contacted_at = time.time()
            receiver.wait_for(lambda ds: any(d.payload["kind"] == "resident_update" for d in of_case(ds, code)),
                              timeout=15, what="resident_update")
            time.sleep(2.5)  # longer than a re-page interval: anything still scheduled would show
        finally:
            server.stop()
        return Walk(database_url, server.url, code, report, receiver.deliveries(), contacted_at)


# --- scenario b: kill -9 twice ---

@dataclass(frozen=True)
class Crash:
    database_url: str
    tracking_code: str
    deliveries: list[Delivery]
    cut_off_id: str  # the page whose request was in flight when the server was killed


def run_crash(database_url: str, workdir: Path) -> Crash:
    """Kill -9 while the first page is in flight; restart; kill -9 after the level-1 escalation; restart."""
    with Receiver() as receiver:
        env = live_env(database_url, workdir, receiver, sla=3, repage=1, lead=1, step=3)
        receiver.hold_when(lambda payload: payload["kind"] == "page")
        servers = [mashang_server(env, workdir=workdir)]
        try:
            servers[0].start()
            with httpx.Client(timeout=10) as client:
                code = create_report(client, servers[0].url, grid_tokens(database_url)[WORKER_GRID])["tracking_code"]
            assert receiver.held.wait(timeout=20), "the first page never arrived"
            servers[0].kill()
            receiver.release.set()
            cut_off_id = next(d.id for d in receiver.deliveries() if d.payload["kind"] == "page")
            case = case_id(database_url, code)

            servers.append(mashang_server(env, workdir=workdir))
            servers[1].start()
            wait_until(lambda: fetch(database_url, select(func.count()).select_from(Notification).where(
                Notification.case_id == case, Notification.kind == "escalation", Notification.level == 1,
                Notification.state == "delivered"))[0][0] == 1, timeout=30, what="level-1 escalation delivered")
            servers[1].kill()  # between steps: level 1 is done, level 2 not yet due

            servers.append(mashang_server(env, workdir=workdir))
            servers[2].start()
            receiver.wait_for(lambda ds: any(is_step(d, "escalation", 2) for d in ds), timeout=30,
                              what="level-2 escalation after the second restart")
            # The cut-off pages are leased for 30 s, then sent again; every step has run by then.
            wait_until(lambda: pending_notifications(database_url, case) == 0 and fetch(database_url, select(
                func.count()).select_from(CaseStep).where(CaseStep.case_id == case,
                                                          CaseStep.state == "pending"))[0][0] == 0,
                       timeout=60, what="every notification delivered and every step run", every=0.25)
        finally:
            stop_all(servers)
        return Crash(database_url, code, receiver.deliveries(), cut_off_id)


# --- scenario c: two instances on one Postgres database ---

@dataclass(frozen=True)
class TwoInstances:
    database_url: str
    tracking_codes: list[str]
    deliveries: list[Delivery]


def run_two_instances(database_url: str, workdir: Path) -> TwoInstances:
    """500 cases POSTed to two `mashang serve` processes sharing one database, until each has escalated."""
    with Receiver() as receiver:
        # No re-pages inside the run: page, warning and escalation steps are enough to contend for, at less CPU.
        env = live_env(database_url, workdir, receiver, sla=4, repage=600, lead=2, step=600)
        servers = [mashang_server(env, workdir=workdir), mashang_server(env, workdir=workdir)]
        try:
            with ThreadPoolExecutor(16) as pool, client_per_thread() as client:
                list(pool.map(lambda server: server.start(), servers))
                tokens = grid_tokens(database_url)

                def post(number: int) -> str:
                    token = tokens[DEMO_GRIDS[number % len(DEMO_GRIDS)]]
                    return create_report(client(), servers[number % 2].url, token,
                                         description=f"第{number}号：井盖松动")["tracking_code"]

                codes = list(pool.map(post, range(CASES_ON_TWO_INSTANCES)))
            escalated = select(func.count()).select_from(CaseStep).where(
                CaseStep.kind == "escalate", CaseStep.level == 1, CaseStep.state == "done")
            wait_until(lambda: fetch(database_url, escalated)[0][0] >= len(codes), timeout=90,
                       what=f"level-1 escalation of all {len(codes)} cases", every=0.5)
            undelivered = select(func.count()).select_from(Notification).where(
                Notification.kind == "escalation", Notification.state == "pending")
            wait_until(lambda: fetch(database_url, undelivered)[0][0] == 0, timeout=60,
                       what="every escalation delivered", every=0.5)
        finally:
            stop_all(servers)
        return TwoInstances(database_url, codes, receiver.deliveries())


# --- scenario d: the pager answers 503 for a while ---

OUTAGE_SECONDS = 5.0


@dataclass(frozen=True)
class Outage:
    database_url: str
    tracking_code: str
    deliveries: list[Delivery]
    recovered_at: datetime


def run_outage(database_url: str, workdir: Path) -> Outage:
    """The gateway answers 503 (Retry-After: 1) from before the report until 5 s after it; then 200 again."""
    with Receiver() as receiver:
        # Re-pages every 60 s: none fall inside the run, so every notification is one the outage touched.
        env = live_env(database_url, workdir, receiver, sla=2, repage=60, lead=1, step=1)
        server = mashang_server(env, workdir=workdir)
        try:
            server.start()
            receiver.fail_with(503, retry_after="1")
            with httpx.Client(timeout=10) as client:
                code = create_report(client, server.url, grid_tokens(database_url)[WORKER_GRID])["tracking_code"]
            time.sleep(OUTAGE_SECONDS)
            recovered_at = datetime.now(UTC)
            receiver.recover()
            case = case_id(database_url, code)
            # Backoff is 2.5-5 s, then 5-10 s, then 10-20 s: a page that failed twice may wait ~15 s more.
            wait_until(lambda: pending_notifications(database_url, case) == 0, timeout=60,
                       what="every notification delivered after the outage", every=0.25)
        finally:
            server.stop()
        return Outage(database_url, code, receiver.deliveries(), recovered_at)


# --- e: one instance under load, its ack links tapped as pages arrive ---

CASES_IN_BURST = 150


@dataclass(frozen=True)
class Burst:
    database_url: str
    deliveries: list[Delivery]
    ack_answers: list[int | str]  # status codes, or the transport error's name


def _tap_ack_links(receiver: Receiver, server_url: str, stop: threading.Event, answers: list[int | str]) -> None:
    """POST every page's ack link once, as soon as the page arrives, until stop is set."""
    tapped: set[str] = set()
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            for delivery in receiver.deliveries():
                ack_url = delivery.payload.get("ack_url")
                if delivery.payload["kind"] != "page" or ack_url is None or ack_url in tapped:
                    continue
                tapped.add(ack_url)
                try:
                    answers.append(client.post(on_server(ack_url, server_url), headers=JSON_ACCEPT).status_code)
                except httpx.HTTPError as exc:
                    answers.append(type(exc).__name__)
            time.sleep(0.05)


def run_burst(database_url: str, workdir: Path) -> Burst:
    """150 reports from 8 clients at once; every page acknowledged by its link as it arrives."""
    with Receiver() as receiver:
        env = live_env(database_url, workdir, receiver, sla=3, repage=600, lead=1, step=600)
        server = mashang_server(env, workdir=workdir)
        stop, answers = threading.Event(), []
        tapper = threading.Thread(target=_tap_ack_links, args=(receiver, server.url, stop, answers), daemon=True)
        try:
            server.start()
            tapper.start()
            tokens = grid_tokens(database_url)
            with ThreadPoolExecutor(8) as pool, client_per_thread() as client:
                list(pool.map(lambda n: create_report(client(), server.url, tokens[DEMO_GRIDS[n % len(DEMO_GRIDS)]],
                                                      description=f"第{n}号：楼道堆物"), range(CASES_IN_BURST)))
            escalated = select(func.count()).select_from(CaseStep).where(
                CaseStep.kind == "escalate", CaseStep.level == 1, CaseStep.state == "done")
            wait_until(lambda: fetch(database_url, escalated)[0][0] >= CASES_IN_BURST, timeout=60,
                       what=f"level-1 escalation of all {CASES_IN_BURST} cases", every=0.5)
            # Caught up: nothing is due any more (a notification leased by a failed record stays pending, not due).
            wait_until(lambda: fetch(database_url, select(func.count()).select_from(Notification).where(
                Notification.state == "pending", Notification.next_attempt_at <= datetime.now(UTC)))[0][0] == 0,
                timeout=30, what="outbox caught up", every=0.5)
            time.sleep(1)
        finally:
            stop.set()
            tapper.join(timeout=15)
            server.stop()
        return Burst(database_url, receiver.deliveries(), answers)


# --- f: SIGTERM while the outbox has a backlog ---

CASES_IN_BACKLOG = 200
GATEWAY_SECONDS_PER_REQUEST = 0.3


@dataclass(frozen=True)
class Shutdown:
    database_url: str
    exit_seconds: float
    pending_at_exit: int


def run_shutdown(database_url: str, workdir: Path) -> Shutdown:
    """400 pages queued behind a gateway that takes 0.3 s a request, then SIGTERM once sending is under way."""
    with Receiver() as receiver:
        receiver.slow_down(GATEWAY_SECONDS_PER_REQUEST)
        env = live_env(database_url, workdir, receiver, sla=600, repage=600, lead=60, step=600)
        server = mashang_server(env, workdir=workdir)
        try:
            server.start()
            token = grid_tokens(database_url)[WORKER_GRID]
            with ThreadPoolExecutor(8) as pool, client_per_thread() as client:
                list(pool.map(lambda n: create_report(client(), server.url, token, description=f"第{n}号：路灯不亮"),
                              range(CASES_IN_BACKLOG)))
            receiver.wait_for(lambda ds: len(ds) >= 10, timeout=20, what="sending under way")
            os.killpg(server.process.pid, signal.SIGTERM)
            started = time.monotonic()
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            exit_seconds = time.monotonic() - started
        finally:
            server.stop()
        return Shutdown(database_url, exit_seconds, pending_notifications(database_url))


# --- running the scenarios side by side ---

SCENARIOS: dict[str, Callable[[str, Path], object]] = {
    "walk": run_walk, "crash": run_crash, "outage": run_outage, "two_instances": run_two_instances,
    "burst": run_burst, "shutdown": run_shutdown}
# The two-instance load waits for the scenarios whose timing its CPU could disturb (the crash's wait is idle).
RUN_AFTER = {"two_instances": ("walk", "outage"), "burst": ("walk", "outage")}


class Scenarios:
    """Starts every scenario the selected tests need at once; a test waits only for its own."""

    def __init__(self, wanted: set[tuple[str, str]], workdir: Path) -> None:
        self.workdir = workdir
        self.databases = Databases(workdir)
        self._pool = ThreadPoolExecutor(max(1, len(wanted)), thread_name_prefix="scenario")
        self._futures: dict[tuple[str, str], Future] = {}
        for key in sorted(k for k in wanted if k[0] not in RUN_AFTER):
            self._futures[key] = self._pool.submit(self._run, key)
        for key in sorted(k for k in wanted if k[0] in RUN_AFTER):
            after = [future for (name, _), future in self._futures.items() if name in RUN_AFTER[key[0]]]
            self._futures[key] = self._pool.submit(self._run, key, after=after)

    def _run(self, key: tuple[str, str], after: Sequence[Future] = ()) -> object:
        """Run one scenario on a fresh copy of its backend's template, once the scenarios it waits for are done."""
        wait_all(after, timeout=SCENARIO_TIMEOUT)
        name, backend = key
        workdir = self.workdir / f"{name}-{backend}"
        workdir.mkdir()
        return SCENARIOS[name](self.databases.copy(backend, name), workdir)

    def result(self, name: str, backend: str) -> object:
        """What the scenario left (waiting for it); skip, or fail under CI, if its backend is missing."""
        try:
            return self._futures[(name, backend)].result(timeout=2 * SCENARIO_TIMEOUT)
        except Unavailable as exc:
            missing(str(exc))

    def close(self) -> None:
        """Wait for the scenarios still running, then drop their databases."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.databases.drop_all()


@pytest.fixture(scope="module")
def scenarios(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenarios]:
    """The scenarios this session's selected tests of this module need, started together."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None:
            wanted.update((name, callspec.params[name]) for name in SCENARIOS if name in callspec.params)
    runner = Scenarios(wanted, tmp_path_factory.mktemp("live"))
    try:
        yield runner
    finally:
        runner.close()


@pytest.fixture(scope="module", params=BACKENDS)
def walk(request: pytest.FixtureRequest, scenarios: Scenarios) -> Walk:
    """Scenario a, run on this backend."""
    return scenarios.result("walk", request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def crash(request: pytest.FixtureRequest, scenarios: Scenarios) -> Crash:
    """Scenario b, run on this backend."""
    return scenarios.result("crash", request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def outage(request: pytest.FixtureRequest, scenarios: Scenarios) -> Outage:
    """Scenario d, run on this backend."""
    return scenarios.result("outage", request.param)


@pytest.fixture(scope="module", params=BACKENDS)
def burst(request: pytest.FixtureRequest, scenarios: Scenarios) -> Burst:
    """Scenario e, run on this backend."""
    return scenarios.result("burst", request.param)


@pytest.fixture(scope="module", params=["sqlite"])
def shutdown(request: pytest.FixtureRequest, scenarios: Scenarios) -> Shutdown:
    """Scenario f, run on this backend."""
    return scenarios.result("shutdown", request.param)


@pytest.fixture(scope="module", params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def two_instances(request: pytest.FixtureRequest, scenarios: Scenarios) -> TwoInstances:
    """Scenario c, run on this backend."""
    return scenarios.result("two_instances", request.param)


# --- a: signatures, payloads, recipients and the order of events ---

def test_every_webhook_request_is_signed_with_the_hmac_of_its_raw_body(walk: Walk):
    assert walk.deliveries and all(d.signed_with(SECRET) for d in walk.deliveries)


def test_idempotency_key_is_the_payload_id_and_the_first_attempt_is_numbered_1(walk: Walk):
    assert all(d.id == d.payload["id"] for d in walk.deliveries)
    assert {d.attempt for d in walk.deliveries} == {1}
    assert len({d.id for d in walk.deliveries}) == len(walk.deliveries)


def test_page_payload_has_the_contract_fields(walk: Walk):
    page = next(d.payload for d in walk.deliveries if d.payload["kind"] == "page")
    assert set(page) == {"id", "kind", "level", "recipient", "case", "ack_url"}
    assert set(page["recipient"]) == {"role", "name", "phone"} and page["recipient"]["role"] == "worker"
    assert set(page["case"]) == {"tracking_code", "category", "grid", "created_at", "contact_due_at", "summary"}
    assert page["case"]["tracking_code"] == walk.tracking_code
    assert page["case"]["grid"]["code"] == WORKER_GRID and len(page["case"]["summary"]) <= 70
    assert (page["case"]["created_at"], page["case"]["contact_due_at"]) == (
        walk.report["created_at"], walk.report["contact_due_at"])
    assert "/a/" in page["ack_url"]


def test_ack_url_points_at_the_port_the_server_listens_on(walk: Walk):
    page = next(d.payload for d in walk.deliveries if d.payload["kind"] == "page")
    assert page["ack_url"].startswith(f"{walk.server_url}/a/"), page["ack_url"]


def test_level_0_page_goes_to_the_grid_worker_and_the_backup(walk: Walk):
    pages = [d.payload for d in walk.deliveries if d.payload["kind"] == "page"]
    assert sorted((p["level"], p["recipient"]["phone"]) for p in pages) == [(0, WORKER), (0, BACKUP)]


def test_repage_warning_and_escalations_arrive_in_that_order(walk: Walk):
    def first(kind: str, level: int) -> float:
        return min(d.received_monotonic for d in walk.deliveries if is_step(d, kind, level))

    last_page = max(d.received_monotonic for d in walk.deliveries if is_step(d, "page", 0))
    order = [last_page, first("repage", 0), first("warning", 0), first("escalation", 1), first("escalation", 2)]
    assert order == sorted(order)


def test_level_1_escalation_pages_the_dispatcher_and_tells_both_workers(walk: Walk):
    escalations = [d.payload for d in walk.deliveries if d.payload["kind"] == "escalation"]
    assert [p["recipient"]["phone"] for p in escalations if p["level"] == 1] == [DISPATCHER]
    assert sorted(p["recipient"]["phone"] for p in escalations if p["level"] == 0) == [WORKER, BACKUP]


def test_level_2_escalation_pages_the_street_supervisor(walk: Walk):
    level_2 = [d.payload for d in walk.deliveries if is_step(d, "escalation", 2)]
    assert [(p["recipient"]["phone"], p["recipient"]["role"]) for p in level_2] == [(SUPERVISOR, "supervisor")]


def test_contact_by_ack_link_sends_the_resident_an_update_without_an_ack_link(walk: Walk):
    updates = [d.payload for d in walk.deliveries if d.payload["kind"] == "resident_update"]
    assert len(updates) == 1
    assert updates[0]["recipient"]["role"] == "resident" and updates[0]["recipient"]["phone"] == RESIDENT
    assert "ack_url" not in updates[0]


def test_nothing_reaches_the_pager_for_the_case_after_the_resident_update(walk: Walk):
    kinds = [d.payload["kind"] for d in sorted(walk.deliveries, key=lambda d: d.received_monotonic)]
    assert kinds[-1] == "resident_update"
    assert all(d.received_at < walk.contacted_at for d in walk.deliveries if d.payload["kind"] != "resident_update")


# --- b: kill -9 between steps ---
#
# "Once" here: each scheduled step (a case_step row: page, warning, escalate at level L, re-page n of person P)
# has its effects committed exactly once, so each (step, recipient) has exactly one notification and one payload
# id. Delivery is at least once: a request cut off by the crash is sent again after its lease, with the same id
# and bytes (the receiver deduplicates by id). Two *different* ids for one (case, kind, level, phone, step) would
# mean the step ran twice; that must never happen.

def test_every_due_step_reaches_the_pager_across_two_kill_9s(crash: Crash):
    received = {(d.payload["kind"], d.payload["level"], d.payload["recipient"]["phone"]) for d in crash.deliveries}
    assert {("page", 0, WORKER), ("page", 0, BACKUP), ("warning", 0, WORKER), ("warning", 0, BACKUP),
            ("escalation", 0, WORKER), ("escalation", 0, BACKUP), ("escalation", 1, DISPATCHER),
            ("escalation", 2, SUPERVISOR)} <= received


def test_no_logical_notification_reaches_the_pager_under_two_ids(crash: Crash):
    doubled = {key: ids for key, ids in ids_per_logical_notification(crash.database_url, crash.deliveries).items()
               if len(ids) > 1}
    assert doubled == {}


def test_every_request_is_a_notification_the_database_kept(crash: Crash):
    assert {d.id for d in crash.deliveries} <= set(logical_keys(crash.database_url))


def test_each_step_of_the_case_ran_once(crash: Crash):
    case = case_id(crash.database_url, crash.tracking_code)
    events = fetch(crash.database_url, select(CaseEvent.kind, CaseEvent.detail).where(CaseEvent.case_id == case))
    counted = Counter((kind, (detail or {}).get("level")) for kind, detail in events)
    assert (counted[("paged", 0)], counted[("warned", None)]) == (1, 1)
    assert (counted[("escalated", 1)], counted[("escalated", 2)]) == (1, 1)


def test_each_kind_of_page_went_once_to_each_person(crash: Crash):
    once = Counter()
    for delivery in {d.id: d for d in crash.deliveries}.values():
        payload = delivery.payload
        if payload["kind"] != "repage":
            once[(payload["kind"], payload["level"], payload["recipient"]["phone"])] += 1
    assert set(once.values()) == {1}, once


def test_the_page_cut_off_by_the_kill_is_sent_again_with_the_same_id_and_bytes(crash: Crash):
    requests = [d for d in crash.deliveries if d.id == crash.cut_off_id]
    assert [d.attempt for d in requests] == [1, 2]
    assert len({d.body for d in requests}) == 1


# --- c: two instances on one Postgres database ---

def test_every_case_escalates_to_level_1_once_with_two_instances(two_instances: TwoInstances):
    rows = fetch(two_instances.database_url, select(CaseEvent.case_id, CaseEvent.detail).where(
        CaseEvent.kind == "escalated"))
    level_1 = Counter(case for case, detail in rows if detail["level"] == 1)
    assert len(level_1) == len(two_instances.tracking_codes) and set(level_1.values()) == {1}


def test_each_notification_is_written_once_with_two_instances(two_instances: TwoInstances):
    doubled = fetch(two_instances.database_url, select(
        Notification.case_id, Notification.kind, Notification.level, Notification.person_id, Notification.step_id,
        func.count()).group_by(Notification.case_id, Notification.kind, Notification.level, Notification.person_id,
                               Notification.step_id).having(func.count() > 1))
    assert doubled == []


def test_the_pager_gets_no_two_ids_for_one_notification_with_two_instances(two_instances: TwoInstances):
    seen = ids_per_logical_notification(two_instances.database_url, two_instances.deliveries)
    assert len(seen) >= len(two_instances.tracking_codes)
    assert {key: ids for key, ids in seen.items() if len(ids) > 1} == {}


# --- d: the pager is down for a while ---

def test_escalation_advances_on_time_while_the_pager_answers_503(outage: Outage):
    case = case_id(outage.database_url, outage.tracking_code)
    steps = fetch(outage.database_url, select(CaseStep.level, CaseStep.state, CaseStep.due_at, CaseStep.done_at)
                  .where(CaseStep.case_id == case, CaseStep.kind == "escalate").order_by(CaseStep.level))
    assert [(level, state) for level, state, _, _ in steps] == [(1, "done"), (2, "done")]
    for _, _, due_at, done_at in steps:
        assert due_at <= done_at < min(due_at + timedelta(seconds=2), outage.recovered_at)


def test_escalated_events_are_recorded_during_the_outage(outage: Outage):
    case = case_id(outage.database_url, outage.tracking_code)
    events = fetch(outage.database_url, select(CaseEvent.at, CaseEvent.detail).where(
        CaseEvent.case_id == case, CaseEvent.kind == "escalated"))
    assert sorted(detail["level"] for _, detail in events) == [1, 2]
    assert all(at < outage.recovered_at for at, _ in events)


def test_every_notification_is_delivered_after_the_outage(outage: Outage):
    case = case_id(outage.database_url, outage.tracking_code)
    states = fetch(outage.database_url, select(Notification.kind, Notification.state).where(
        Notification.case_id == case))
    assert len(states) == 8 and {state for _, state in states} == {"delivered"}


def test_failed_attempts_are_kept_before_the_one_that_succeeded(outage: Outage):
    case = case_id(outage.database_url, outage.tracking_code)
    rows = fetch(outage.database_url, select(DeliveryAttempt.notification_id, DeliveryAttempt.attempt,
                                             DeliveryAttempt.ok, DeliveryAttempt.status_code)
                 .join(Notification, Notification.id == DeliveryAttempt.notification_id)
                 .where(Notification.case_id == case).order_by(DeliveryAttempt.notification_id,
                                                               DeliveryAttempt.attempt))
    attempts: dict[str, list[tuple[int, bool, int | None]]] = defaultdict(list)
    for notification_id, attempt, ok, status in rows:
        attempts[notification_id].append((attempt, ok, status))
    assert len(attempts) == 8
    for history in attempts.values():
        assert [a for a, _, _ in history] == list(range(1, len(history) + 1)) and len(history) >= 2
        assert [(ok, status) for _, ok, status in history] == [(False, 503)] * (len(history) - 1) + [(True, 200)]


def test_retries_carry_the_same_bytes_and_rising_attempt_numbers(outage: Outage):
    by_id: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in sorted(outage.deliveries, key=lambda d: d.received_monotonic):
        by_id[delivery.id].append(delivery)
    for requests in by_id.values():
        assert [d.attempt for d in requests] == list(range(1, len(requests) + 1))
        assert len({d.body for d in requests}) == 1 and requests[-1].status == 200


# --- e: under load ---

def test_every_request_answered_200_is_recorded_as_delivered_under_load(burst: Burst):
    answered = {d.id for d in burst.deliveries if d.status == 200}
    states = dict(fetch(burst.database_url, select(Notification.id, Notification.state)))
    not_recorded = sorted(i for i in answered if states.get(i) != "delivered")
    assert not_recorded == [], f"{len(not_recorded)} of {len(answered)} delivered requests not recorded"


def test_every_attempt_the_gateway_saw_is_kept_under_load(burst: Burst):
    kept = set(fetch(burst.database_url, select(DeliveryAttempt.notification_id, DeliveryAttempt.attempt)))
    missing_attempts = sorted({(d.id, d.attempt) for d in burst.deliveries} - kept)
    assert missing_attempts == [], f"{len(missing_attempts)} of {len(burst.deliveries)} attempts not kept"


def test_ack_links_answer_200_while_the_engine_is_busy(burst: Burst):
    assert len(burst.ack_answers) >= CASES_IN_BURST / 2
    assert Counter(burst.ack_answers) == {200: len(burst.ack_answers)}


# --- f: shutting down ---

def test_sigterm_stops_the_server_without_draining_the_whole_outbox(shutdown: Shutdown):
    """The batch in flight may finish (50 requests, 8 at a time, 0.3 s each: about 2 s); the backlog waits."""
    assert shutdown.exit_seconds < 6, f"exit took {shutdown.exit_seconds:.1f} s"
    assert shutdown.pending_at_exit > 0
