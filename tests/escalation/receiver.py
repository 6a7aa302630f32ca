"""A local pager webhook: records every request (headers, raw body, time), answers 200, or 503 during an outage."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Delivery:
    """One webhook request as it arrived, and what it was answered."""

    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float  # time.time(): comparable with the server's UTC timestamps
    received_monotonic: float
    status: int

    @property
    def payload(self) -> dict:
        """The JSON body."""
        return json.loads(self.body)

    @property
    def id(self) -> str:
        """The Idempotency-Key header (the payload's id)."""
        return self.headers.get("idempotency-key", "")

    @property
    def attempt(self) -> int:
        """The X-Mashang-Attempt header."""
        return int(self.headers.get("x-mashang-attempt", "0"))

    def signed_with(self, secret: str) -> bool:
        """The X-Mashang-Signature header is the HMAC-SHA256 of the raw body under secret."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-mashang-signature", ""), expected)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that the engine pages; start() it, read deliveries(), stop() it."""

    def __init__(self, path: str = "/hook") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._outage: tuple[int, str | None] | None = None
        self._hold: Callable[[dict], bool] | None = None
        self._delay_seconds = 0.0
        self.held = threading.Event()
        self.release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="pager-receiver", daemon=True)

    @property
    def url(self) -> str:
        """Where MASHANG_PAGER_WEBHOOK_URL should point."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def start(self) -> "Receiver":
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release any held request and stop serving."""
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Receiver":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def fail_with(self, status: int = 503, retry_after: str | None = None) -> None:
        """Answer every request with status (an outage of the gateway) until recover()."""
        with self._lock:
            self._outage = (status, retry_after)

    def recover(self) -> None:
        """Answer 200 again."""
        with self._lock:
            self._outage = None

    def slow_down(self, seconds: float) -> None:
        """Take this long to answer each request (a slow gateway)."""
        with self._lock:
            self._delay_seconds = seconds

    def hold_when(self, matches: Callable[[dict], bool]) -> None:
        """Keep the first request whose payload matches unanswered (held is set) until release is set."""
        with self._lock:
            self._hold = matches

    def deliveries(self) -> list[Delivery]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._deliveries)

    def wait_for(self, condition: Callable[[list[Delivery]], bool], *, timeout: float, what: str) -> list[Delivery]:
        """Poll until condition(deliveries) holds; AssertionError naming what after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.deliveries()
            if condition(seen):
                return seen
            if time.monotonic() > deadline:
                kinds = [(d.payload.get("kind"), d.payload.get("level")) for d in seen[-10:]]
                raise AssertionError(f"no {what} within {timeout} s; {len(seen)} received, last: {kinds}")
            time.sleep(0.02)

    def _answer(self, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        """Record the request; the status (and Retry-After) to answer with, after any hold."""
        hold = False
        with self._lock:
            status, retry_after = self._outage or (200, None)
            delay = self._delay_seconds
            if self._hold is not None:
                try:
                    hold = self._hold(json.loads(body))
                except ValueError:
                    hold = False
                if hold:
                    self._hold = None
            self._deliveries.append(Delivery(headers, body, time.time(), time.monotonic(), status))
        if hold:
            self.held.set()
            self.release.wait(timeout=60)
        if delay:
            time.sleep(delay)
        return status, retry_after

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """A request handler bound to this receiver."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway would

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                if self.path != receiver.path:
                    self._reply(404, None)
                    return
                status, retry_after = receiver._answer(headers, body)
                self._reply(status, retry_after)

            def _reply(self, status: int, retry_after: str | None) -> None:
                answer = b'{"ok":true}' if status < 300 else b'{"ok":false}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender died while we held its request: that is the point of holding

            def log_message(self, *_args: object) -> None:
                pass

        return Handler
