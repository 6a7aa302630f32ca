"""Report intake against its validate-only ceiling, measured with wrk: SQLite with 1 worker, Postgres with 2.

Each round starts a fresh server, warms it up, then runs wrk (64 connections, unique Idempotency-Key per
request); rounds interleave ceiling and intake, and the table shows medians. Usage:
    .venv/bin/python bench/bench_intake.py [--backend sqlite|postgres] [--rounds 3] [--duration 10]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    BENCH_DIR,
    REPORT_DESCRIPTION,
    CpuMeter,
    Server,
    ceiling_server,
    count_cases,
    create_pg_database,
    drop_pg_database,
    mashang_server,
    paging_backlog,
    pg_admin_url,
    prepare_database,
    report_json,
    server_env,
)

WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
NOISY_CORES = 0.2  # of the machine's cores, used by anything but the server, Postgres and wrk


@dataclass(frozen=True)
class Target:
    """What the issue asks of one set-up."""

    backend: str
    workers: int
    min_ratio: float
    max_p99_ms: float | None


TARGETS = {
    "sqlite": Target("sqlite", 1, 0.5, 100.0),
    "postgres": Target("postgres", 2, 0.3, None),
}


@dataclass(frozen=True)
class WrkRun:
    """One wrk run, as its Lua `done` hook reported it."""

    requests: int
    duration_us: int
    non_2xx_3xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    p50_us: int
    p99_us: int
    max_us: int

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)

    @property
    def ok(self) -> int:
        return self.requests - self.non_2xx_3xx

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


@dataclass
class Result:
    """Every round of one backend, and the check of 2xx answers against cases written."""

    target: Target
    ceiling: list[WrkRun] = field(default_factory=list)
    intake: list[WrkRun] = field(default_factory=list)
    cases_written: int = 0
    connections: int = 64
    other_cores: list[float] = field(default_factory=list)
    catch_up_seconds: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ceiling_rate(self) -> float:
        return statistics.median(r.rate for r in self.ceiling)

    @property
    def intake_rate(self) -> float:
        return statistics.median(r.rate for r in self.intake)

    @property
    def ratio(self) -> float:
        return self.intake_rate / self.ceiling_rate

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.p99_us for r in self.intake) / 1000

    @property
    def ok_answers(self) -> int:
        return sum(r.ok for r in self.intake)

    @property
    def counts_agree(self) -> bool:
        """Every 2xx is a case; at most one case per connection more (requests wrk dropped at its deadline)."""
        slack = sum(self.connections + r.socket_errors for r in self.intake)
        return self.ok_answers <= self.cases_written <= self.ok_answers + slack

    @property
    def passed(self) -> bool:
        t = self.target
        return (self.ratio >= t.min_ratio and (t.max_p99_ms is None or self.p99_ms < t.max_p99_ms)
                and self.counts_agree and all(r.non_2xx_3xx == 0 for r in self.ceiling + self.intake))


def run_wrk(url: str, *, body: str, run_id: str, seconds: int, connections: int, threads: int) -> WrkRun:
    """Run wrk with the report script against a server; its summary."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
            "-s", str(WRK_SCRIPT), url, "--", body, run_id]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return WrkRun(**json.loads(line.removeprefix("WRK_JSON ")))
    raise RuntimeError(f"wrk gave no summary ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def wait_for_paging(database_url: str, *, limit_seconds: float = 300) -> float:
    """Seconds from the end of the load until every page that fell due was sent (the ticker's backlog)."""
    started = time.monotonic()
    while paging_backlog(database_url) > 0 and time.monotonic() - started < limit_seconds:
        time.sleep(0.2)
    return time.monotonic() - started


def _marker(run_id: str) -> str:
    return f" #{run_id}"


def _body(token: str, run_id: str) -> str:
    return report_json(token, description=REPORT_DESCRIPTION + _marker(run_id))


def _describe(run: WrkRun, meter: CpuMeter) -> str:
    """One run in a line: rate, p99, errors, CPU per request, and how busy the rest of the machine was."""
    per_request = 1000 / max(run.requests, 1)
    text = f"{run.rate:6.0f} req/s, p99 {run.p99_us / 1000:6.1f} ms"
    text += f", {run.non_2xx_3xx} non-2xx" if run.non_2xx_3xx else ""
    text += f", {run.socket_errors} socket errors" if run.socket_errors else ""
    text += f", server CPU {meter.server_seconds * per_request:.2f} ms/req"
    if meter.ticker_seconds:
        text += f" (web {(meter.server_seconds - meter.ticker_seconds) * per_request:.2f}" \
                f", ticker {meter.ticker_seconds * per_request:.2f})"
    text += f", Postgres CPU {meter.postgres_seconds * per_request:.2f} ms/req" if meter.postgres_seconds else ""
    return text + f", other load {meter.other_cores:.2f} cores"


def measure(target: Target, database_url: str, *, workdir: Path, args: argparse.Namespace) -> Result:
    """Interleaved rounds of ceiling and intake on one database."""
    env = server_env(database_url, workdir=workdir, extra=dict(args.server_env))
    paging = env.get("MASHANG_SCHEDULER", "on").lower() != "off"
    token = prepare_database(env, workdir=workdir)
    result = Result(target, connections=args.connections)
    load = {"connections": args.connections, "threads": args.threads}
    servers: list[tuple[str, Callable[..., Server], list[WrkRun]]] = [
        ("ceiling", ceiling_server, result.ceiling), ("intake", mashang_server, result.intake)]
    for round_number in range(1, args.rounds + 1):
        for name, make_server, runs in servers:
            # Each run's reports carry its id in the description, so its cases can be counted apart.
            warm_id, run_id = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
            with make_server(env, workdir=workdir, workers=target.workers).start() as server:
                run_wrk(server.url, body=_body(token, warm_id), run_id=warm_id, seconds=args.warmup, **load)
                with CpuMeter([server.process.pid], database_url=database_url) as meter:
                    run = run_wrk(server.url, body=_body(token, run_id), run_id=run_id, seconds=args.duration,
                                  **load)
                if name == "intake" and paging:
                    result.catch_up_seconds.append(wait_for_paging(database_url))
            if name == "intake":  # after a graceful stop: requests in flight when wrk stopped have settled
                result.cases_written += count_cases(database_url, description_marker=_marker(run_id))
            runs.append(run)
            result.other_cores.append(meter.other_cores)
            caught_up = f", paging caught up {result.catch_up_seconds[-1]:.1f} s after the load" \
                if name == "intake" and paging else ""
            print(f"  {target.backend} round {round_number} {name:<7}: {_describe(run, meter)}{caught_up}", flush=True)
    return result


def run_backend(backend: str, args: argparse.Namespace) -> Result:
    """Measure one backend on a throwaway database; skipped with a reason if Postgres is not there."""
    target = TARGETS[backend]
    workdir = Path(tempfile.mkdtemp(prefix=f"mashang-bench-{backend}-"))
    try:
        if backend == "sqlite":
            return measure(target, f"sqlite:///{workdir / 'bench.db'}", workdir=workdir, args=args)
        admin_url = pg_admin_url()
        try:
            url = create_pg_database(admin_url, prefix="mashang_bench")
        except Exception as exc:  # noqa: BLE001 - any failure means no Postgres to measure on
            return Result(target, skipped=f"PostgreSQL not reachable ({type(exc).__name__})")
        try:
            return measure(target, url, workdir=workdir, args=args)
        finally:
            drop_pg_database(admin_url, url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def table(results: list[Result]) -> str:
    """The plain-text summary."""
    rows = [("backend", "workers", "ceiling req/s", "intake req/s", "ratio", "p99 ms", "other load", "target",
             "result")]
    for r in results:
        t = r.target
        goal = f">= {t.min_ratio}" + (f", p99 < {t.max_p99_ms:.0f} ms" if t.max_p99_ms else "")
        if r.skipped:
            rows.append((t.backend, str(t.workers), "-", "-", "-", "-", "-", goal, f"SKIP: {r.skipped}"))
            continue
        rows.append((t.backend, str(t.workers), f"{r.ceiling_rate:.0f}", f"{r.intake_rate:.0f}", f"{r.ratio:.2f}",
                     f"{r.p99_ms:.1f}", f"{max(r.other_cores):.2f} cores", goal, "PASS" if r.passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    for r in results:
        if r.skipped:
            continue
        verdict = "ok" if r.counts_agree else "MISMATCH"
        non_2xx = sum(run.non_2xx_3xx for run in r.ceiling + r.intake)
        if r.catch_up_seconds:
            lines.append(f"{r.target.backend}: paging (on, as in production) caught up a median "
                         f"{statistics.median(r.catch_up_seconds):.1f} s after each "
                         f"{r.intake[0].duration_us / 1e6:.0f} s load (every page due by then sent)")
        lines.append(f"{r.target.backend}: {r.ok_answers} intake 2xx answers seen by wrk, {r.cases_written} cases "
                     f"written ({r.cases_written - r.ok_answers} in flight when wrk stopped): {verdict}; "
                     f"non-2xx answers: {non_2xx}")
        if max(r.other_cores) > NOISY_CORES:
            lines.append(f"{r.target.backend}: NOISY: other processes kept up to {max(r.other_cores):.2f} cores busy "
                         "during a run; these figures understate both servers; rerun on a quiet machine")
    return "\n".join(lines)


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("MASHANG_"):
        raise argparse.ArgumentTypeError("expected MASHANG_NAME=VALUE")
    return name, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", choices=sorted(TARGETS),
                        help="sqlite and/or postgres (repeatable; default: both)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk before each measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--server-env", action="append", type=_setting, default=[], metavar="MASHANG_X=VALUE",
                        help="an extra setting for both servers, e.g. MASHANG_SCHEDULER=off (repeatable)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    print(f"intake vs validate-only ceiling: wrk -c{args.connections} -t{args.threads}, {args.duration} s runs "
          f"after {args.warmup} s warm-up, {args.rounds} interleaved rounds, medians", flush=True)
    results = [run_backend(backend, args) for backend in args.backend or ["sqlite", "postgres"]]
    print(table(results))
    failed = any(not r.skipped and not r.passed for r in results)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
