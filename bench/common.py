"""Shared by the benchmarks and the durability test: real `mashang serve` processes on their own databases."""

import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
BIN_DIR = Path(sys.executable).parent
MASHANG = str(BIN_DIR / "mashang")
DEFAULT_PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEMO_LINK = re.compile(r"/g/([A-Za-z0-9_-]+)")
REPORT_DESCRIPTION = "小区门口的路沿太高，轮椅过不去"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pg_admin_url() -> str:
    """Where throwaway Postgres databases are created (the same setting as the tests)."""
    return os.environ.get("MASHANG_TEST_DATABASE_URL", DEFAULT_PG_ADMIN_URL)


def create_pg_database(admin_url: str, *, prefix: str, template: str | None = None) -> str:
    """Create a Postgres database with a unique name, empty or a copy of template (a database URL); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(admin_url: str, url: str) -> None:
    """Drop a database made by create_pg_database, closing whatever still holds it."""
    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def server_env(database_url: str, *, workdir: Path, extra: Mapping[str, str] | None = None,
               base: Mapping[str, str] | None = None) -> dict[str, str]:
    """base (this process's environment by default) without any MASHANG_* setting, then a test server's own."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("MASHANG_")}
    env.update({"MASHANG_DATABASE_URL": database_url, "MASHANG_ENV": "test", "MASHANG_RATE_LIMITS": "off",
                "MASHANG_MEDIA_DIR": str(workdir / "media")})
    env.update(extra or {})
    return env


def prepare_database(env: Mapping[str, str], *, workdir: Path, timeout_seconds: float = 120) -> str:
    """`mashang migrate` and `mashang demo`; the first demo grid's QR token."""
    for command in ("migrate", "demo"):
        done = subprocess.run([MASHANG, command], env=dict(env), cwd=workdir, capture_output=True, text=True,
                              timeout=timeout_seconds)
        if done.returncode != 0:
            raise RuntimeError(f"mashang {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    match = DEMO_LINK.search(done.stdout)
    if match is None:
        raise RuntimeError(f"mashang demo printed no resident link:\n{done.stdout}")
    return match.group(1)


def report_body(grid_token: str, **overrides: object) -> dict:
    """A valid report for the grid, as a resident's phone would send it."""
    body = {"grid_token": grid_token, "category": "repairs", "description": REPORT_DESCRIPTION,
            "contact_phone": "139 1234 5678"}
    body.update(overrides)
    return body


def report_json(grid_token: str, **overrides: object) -> str:
    """The report body as the bytes a client sends."""
    return json.dumps(report_body(grid_token, **overrides), ensure_ascii=False, separators=(",", ":"))


def count_cases(database_url: str, *, description_marker: str = "") -> int:
    """How many cases the database holds (only those whose description ends with the marker, if given)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM cases WHERE description LIKE :pattern"),
                                {"pattern": f"%{description_marker}"}).scalar_one()
    finally:
        engine.dispose()


def paging_backlog(database_url: str) -> int:
    """Steps that are due and not yet run, and notifications due and not yet sent: paging still to be done."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            # Timestamps as the app stores them: compare in SQL with the database's own clock.
            now = "CURRENT_TIMESTAMP" if engine.dialect.name == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f', 'now')"
            return conn.execute(text(
                f"SELECT (SELECT count(*) FROM case_step WHERE state = 'pending' AND due_at <= {now})"
                f" + (SELECT count(*) FROM notification WHERE state = 'pending' AND next_attempt_at <= {now})"
            )).scalar_one()
    finally:
        engine.dispose()


class Server:
    """An HTTP server subprocess in its own process group, logging to a file, answering /healthz."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str], workdir: Path, port: int, name: str) -> None:
        self.argv = argv
        self.env = dict(env)
        self.workdir = workdir
        self.port = port
        self.log_path = workdir / f"{name}-{port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_seconds: float = 60) -> "Server":
        """Start the process and return once /healthz answers 200."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.workdir, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} did not answer /healthz in {timeout_seconds} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group at once: no shutdown, no flush, like a power cut of the process."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self, *, grace_seconds: float = 10) -> None:
        """SIGTERM (graceful), then SIGKILL whatever of the group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace_seconds)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # orphaned workers, if any
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def mashang_server(env: Mapping[str, str], *, workdir: Path, workers: int = 1, port: int | None = None) -> Server:
    """`mashang serve` (not started yet)."""
    port = port or free_port()
    argv = [MASHANG, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return Server(argv, env=env, workdir=workdir, port=port, name="mashang")


def ceiling_server(env: Mapping[str, str], *, workdir: Path, workers: int = 1, port: int | None = None) -> Server:
    """The validate-only ceiling app under uvicorn with `mashang serve`'s options (not started yet)."""
    port = port or free_port()
    argv = [sys.executable, "-m", "uvicorn", "ceiling_app:create_app", "--factory", "--app-dir", str(BENCH_DIR),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
            "--proxy-headers", "--log-level", "info"]
    return Server(argv, env=env, workdir=workdir, port=port, name="ceiling")


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "guest", 0.0) \
        - getattr(times, "guest_nice", 0.0)


def _cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            cpu = process.cpu_times()
            seconds[process.pid] = cpu.user + cpu.system
        except psutil.Error:
            pass
    return seconds


def _tree(root_pids: list[int]) -> list[psutil.Process]:
    processes = []
    for pid in root_pids:
        try:
            root = psutil.Process(pid)
            processes += [root, *root.children(recursive=True)]
        except psutil.Error:
            pass
    return processes


def _postgres(database: str) -> list[psutil.Process]:
    """Postgres's shared helpers (WAL writer, checkpointer, ...) and the backends serving one database."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(process.info["cmdline"] or [])
        is_backend = "(" in title or "[local]" in title
        if process.info["name"] in ("postgres", "postmaster") and (f" {database} " in title or not is_backend):
            found.append(process)
    return found


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - seconds for pid, seconds in before.items() if pid in after)


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def is_ticker(process: psutil.Process) -> bool:
    """The `mashang ticker` process that `mashang serve` runs beside its workers."""
    try:
        return process.cmdline()[-2:] == ["app", "ticker"]
    except psutil.Error:
        return False


class CpuMeter:
    """CPU seconds used during a span by the server trees (their tickers apart too), their Postgres database,
    wrk, and (in cores) the rest."""

    def __init__(self, root_pids: list[int], *, database_url: str) -> None:
        self.root_pids = root_pids
        url = make_url(database_url)
        self.postgres_database = url.database if url.get_backend_name() == "postgresql" else None
        self.server_seconds = self.ticker_seconds = self.postgres_seconds = self.other_cores = 0.0

    def __enter__(self) -> "CpuMeter":
        self.started = time.monotonic()
        self._busy = _busy_seconds()
        tree = _tree(self.root_pids)
        self._server = _cpu_seconds(tree)
        self._tickers = {process.pid for process in tree if is_ticker(process)}
        self._postgres = _cpu_seconds(_postgres(self.postgres_database)) if self.postgres_database else {}
        self._children = _children_seconds()  # wrk, once it has been waited for
        return self

    def __exit__(self, *_exc: object) -> None:
        elapsed = time.monotonic() - self.started
        after = _cpu_seconds(_tree(self.root_pids))
        self.server_seconds = _delta(self._server, after)
        self.ticker_seconds = _delta({pid: self._server[pid] for pid in self._tickers if pid in self._server}, after)
        if self.postgres_database:
            self.postgres_seconds = _delta(self._postgres, _cpu_seconds(_postgres(self.postgres_database)))
        own = self.server_seconds + self.postgres_seconds + _children_seconds() - self._children
        self.other_cores = max(0.0, (_busy_seconds() - self._busy - own) / elapsed)
