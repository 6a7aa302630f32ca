"""The ticker in a process of its own, beside the web workers that `mashang serve` runs.

Sweeping and delivering in the web process made every page compete with report intake for one interpreter
lock: under a burst of reports the sweep took most of the web process's CPU and intake slowed to a fraction.
In its own process the ticker uses the machine's other core. The web workers wake it when they commit new
cases (a datagram on a Unix socket, fire and forget: the ticker's own tick finds the cases anyway), and read
its state for /healthz from a small status file it rewrites every few seconds.
"""

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from app import health, heap
from app.config import Settings

log = logging.getLogger("mashang.ticker")
STATUS_EVERY_SECONDS = 2.0
STATUS_FRESH_SECONDS = 15.0
RESTART_DELAY_SECONDS = 1.0


def status_path(wake_socket: str) -> Path:
    return Path(f"{wake_socket}.status.json")


class Waker:
    """The web side: tells the ticker process that cases were committed."""

    def __init__(self, wake_socket: str) -> None:
        self.address = wake_socket
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def __call__(self, *_: object) -> None:
        try:
            self._socket.sendto(b"w", self.address)
        except OSError:  # not listening yet, restarting, or its queue is full (it is awake then): the tick comes
            pass

    def close(self) -> None:
        self._socket.close()


def read_status(wake_socket: str) -> dict[str, object]:
    """The ticker process's last status, for /healthz; not running if it is missing or stale."""
    path = status_path(wake_socket)
    try:
        status = json.loads(path.read_text())
        fresh = time.time() - path.stat().st_mtime < STATUS_FRESH_SECONDS
    except (OSError, ValueError):
        return {"running": False, "process": "separate", "lag_seconds": None, "stalled_steps": []}
    return {**status, "running": bool(status.get("running")) and fresh, "process": "separate"}


def run(settings: Settings) -> None:
    """`mashang ticker`: run the ticker until SIGTERM or SIGINT, or until the parent `mashang serve` is gone."""
    from app.escalation.scheduler import Ticker

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ticker = Ticker(settings)
    ticker.start()
    listener = None
    if settings.ticker_socket:
        listener = _listen(settings.ticker_socket, ticker.wake, stop)
    heap.freeze_startup_heap(settings)
    log.info("ticker running (pid %d)", os.getpid())
    try:
        if settings.ticker_socket:
            _write_status(settings.ticker_socket)
        while not stop.wait(STATUS_EVERY_SECONDS if settings.ticker_socket else 1.0):
            if settings.ticker_socket:
                _write_status(settings.ticker_socket)
            if settings.ticker_parent_pid and os.getppid() != settings.ticker_parent_pid:
                log.warning("mashang serve is gone; the ticker stops")
                break
    finally:
        ticker.shutdown()
        if listener is not None:
            listener.close()
        if settings.ticker_socket:
            _write_status(settings.ticker_socket)


def _listen(path: str, wake, stop: threading.Event) -> socket.socket:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(1.0)

    def loop() -> None:
        while not stop.is_set():
            try:
                listener.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            wake()

    threading.Thread(target=loop, name="ticker-wake", daemon=True).start()
    return listener


def _write_status(wake_socket: str) -> None:
    path = status_path(wake_socket)
    temporary = path.with_suffix(".tmp")
    try:
        temporary.write_text(json.dumps(health.scheduler_status, default=str))
        os.replace(temporary, path)
    except OSError:
        log.warning("could not write the ticker's status to %s", path, exc_info=True)


class TickerProcess:
    """`mashang serve`'s side: start `mashang ticker`, restart it if it dies, stop it when serving ends.

    The child inherits this process's environment, in which serve has set MASHANG_TICKER_SOCKET (see
    socket_settings) for the child and for the web workers alike.
    """

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="mashang-")
        self.wake_socket = os.path.join(self.directory, "wake")
        self._stopping = threading.Event()
        self._process: subprocess.Popen | None = None
        self._watcher: threading.Thread | None = None

    def settings(self) -> dict[str, str]:
        """What the web workers and the ticker must find in their environment."""
        return {"MASHANG_TICKER_SOCKET": self.wake_socket, "MASHANG_TICKER_PARENT_PID": str(os.getpid())}

    def start(self, *, ready_within_seconds: float = 60.0) -> None:
        """Start the ticker and wait until it runs, so that once serve answers, due steps are being swept."""
        self._process = self._spawn()
        deadline = time.monotonic() + ready_within_seconds
        while not status_path(self.wake_socket).exists() and time.monotonic() < deadline:
            if self._process.poll() is not None:
                break  # the watcher reports it and starts another
            time.sleep(0.05)
        else:
            if not status_path(self.wake_socket).exists():
                log.warning("the ticker did not start within %.0f s; serving anyway", ready_within_seconds)
        self._watcher = threading.Thread(target=self._watch, name="ticker-watch", daemon=True)
        self._watcher.start()

    def _spawn(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "app", "ticker"], stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            code = self._process.wait()
            # 0: it was asked to stop (SIGTERM to the process group, as when serve itself is stopped).
            if self._stopping.is_set() or code == 0:
                return
            log.error("the ticker process exited with %s; starting it again", code)
            if self._stopping.wait(RESTART_DELAY_SECONDS):
                return
            self._process = self._spawn()

    def stop(self, *, grace_seconds: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after grace_seconds; the socket and status file go with the directory."""
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
