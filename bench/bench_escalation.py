"""Deadline-to-webhook latency with many open and closed cases, and the idle sweep's cost as closed cases grow.

The issue's target: deadline to webhook request p99 <= 2 s with 10,000 open and 1,000,000 closed cases, on SQLite
and on Postgres; the sweep's cost must not grow with closed cases. Per backend this script:
  1. migrates a throwaway database, loads the demo city and a Lanzhou-sized city (118 streets, 1,184 communities,
     8,447 grids, one person per post) so that pages spread over as many phones as in real life;
  2. writes the open cases as the engine leaves them once the page has gone out (page and warning done, the
     level-1 escalation pending at contact_due_at; with --repages also the worker's and backup's re-pages that
     fall due at the same moment), then bulk-loads closed cases with their steps, escalation and one delivered
     notification each (INSERT ... SELECT: generate_series on Postgres, a recursive CTE on SQLite);
  3. times the idle sweep in this process (sweeper.sweep_once, Sender.claim, the audit) at 1,000 closed cases and
     again at the full count;
  4. moves the deadlines of --due of the open cases into a window starting shortly after `mashang serve` starts
     (the others stay due tomorrow), points the webhook at a local receiver and measures, for every escalation
     webhook, receive time minus contact_due_at.
How many fall due in the window is the load. 10,000 open cases inside the 30-minute contact window mean new
cases arriving at 5.6/s, so at most 5.6 deadlines/s if nobody is ever contacted; the default, 1,000 deadlines in
120 s (8.3/s, 3 webhooks each), is half again that. `--due 10000` is a burst: every open case due in two minutes.
Usage:
    .venv/bin/python bench/bench_escalation.py [--backend sqlite|postgres|both] [--closed N] [--open N]
        [--due N] [--window S] [--pacing S] [--sweep-interval S] [--repages] [--keep]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    REPO_DIR,
    create_pg_database,
    drop_pg_database,
    mashang_server,
    pg_admin_url,
    prepare_database,
    server_env,
)
from sqlalchemy import Engine, bindparam, create_engine, func, insert, select, text, update
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(REPO_DIR))

from app.escalation.models import CaseEscalation, CaseRecipient, CaseStep  # noqa: E402
from app.grids.models import Grid  # noqa: E402
from app.reports.models import Case  # noqa: E402
from tests.escalation.receiver import Receiver  # noqa: E402

SLA_SECONDS, REPAGE_SECONDS, WARNING_LEAD_SECONDS, STEP_SECONDS = 1800, 600, 600, 1800
SECRET = "bench-escalation-secret"
TARGET_P99_SECONDS = 2.0
CLOSED_CHUNK = 250_000
FIRST_CLOSED_MEASURE = 1_000
CITY = (118, 1_184, 8_447)  # streets, communities, grids: Lanzhou's real sizes
cases_table, steps_table = Case.__table__, CaseStep.__table__
escalations_table, recipients_table = CaseEscalation.__table__, CaseRecipient.__table__


# --- the city ---

def city_csv(streets: int, communities: int, grids: int) -> str:
    """A grid file with one distinct person per post and a neighbour as each grid's backup."""
    lines = ["code,name,level,parent_code,contact_name,contact_phone,backup_name,backup_phone"]
    for s in range(streets):
        lines.append(f"LZ-{s:03d},兰州第{s}街道,street,,街道长{s},1370{s:07d},,")
    for c in range(communities):
        lines.append(f"LZ-{c % streets:03d}-{c:04d},第{c}社区,community,LZ-{c % streets:03d},接线员{c},1371{c:07d},,")
    per_community: dict[int, list[int]] = {}
    for g in range(grids):
        per_community.setdefault(g % communities, []).append(g)
    for c, members in per_community.items():
        parent = f"LZ-{c % streets:03d}-{c:04d}"
        for index, g in enumerate(members):
            backup = members[(index + 1) % len(members)]
            backup_cells = f"网格员{backup},1372{backup:07d}" if backup != g else ","
            lines.append(f"{parent}-{g:05d},第{g}网格,grid,{parent},网格员{g},1372{g:07d},{backup_cells}")
    return "\n".join(lines) + "\n"


def import_city(env: dict[str, str], workdir: Path) -> None:
    """`mashang grids import` of the Lanzhou-sized city."""
    path = workdir / "city.csv"
    path.write_text(city_csv(*CITY), encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).parent / "mashang"), "grids", "import", str(path)], env=env,
                          cwd=workdir, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"grids import failed:\n{done.stdout}\n{done.stderr}")


@dataclass(frozen=True)
class Post:
    """A basic grid and who is paged for it."""

    grid_id: int
    worker_id: int
    backup_id: int | None
    policy: dict
    expected_escalations: int  # webhooks at the level-1 escalation: worker, backup, dispatcher


def basic_grids(engine: Engine) -> list[Post]:
    """Every staffed basic grid of the Lanzhou-sized city, with its chain up to the street."""
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(Grid.id, Grid.code, Grid.level, Grid.parent_id, Grid.contact_id,
                                                     Grid.backup_id))}
    posts = []
    for row in rows.values():
        if row.level != "grid" or not row.code.startswith("LZ-") or row.contact_id is None:
            continue
        community = rows[row.parent_id]
        chain = [row.id, community.id, community.parent_id]
        policy = {"contact_sla_seconds": SLA_SECONDS, "repage_seconds": REPAGE_SECONDS,
                  "warning_lead_seconds": WARNING_LEAD_SECONDS, "escalation_step_seconds": STEP_SECONDS,
                  "max_repages": 6, "chain": chain}
        expected = 1 + (row.backup_id is not None and row.backup_id != row.contact_id) + (community.contact_id
                                                                                         is not None)
        posts.append(Post(row.id, row.contact_id, row.backup_id, policy, expected))
    posts.sort(key=lambda p: p.grid_id)
    return posts


# --- open cases: what schedule_new_cases wrote, after the page went out ---

def load_open(engine: Engine, posts: list[Post], count: int, *, repages: bool) -> list[int]:
    """Open cases due far in the future (moved into the measured window later); their ids."""
    far = datetime.now(UTC) + timedelta(days=1)
    rows = [{"tracking_code": f"B{n:09d}", "grid_id": posts[n % len(posts)].grid_id, "category_code": "repairs",
             "description": "楼道灯坏了，老人晚上看不见", "contact_phone": "+8613912345678", "contact_name": "王女士",
             "channel": "qr", "status": "open", "created_at": far - timedelta(seconds=SLA_SECONDS),
             "contact_due_at": far, "upload_token_hash": "0" * 64, "upload_expires_at": far}
            for n in range(count)]
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(insert(cases_table).returning(cases_table.c.id,
                                                                        sort_by_parameter_order=True), rows)]
        escalations, steps, recipients = [], [], []
        for n, case_id in enumerate(ids):
            post = posts[n % len(posts)]
            created = far - timedelta(seconds=SLA_SECONDS)
            escalations.append({"case_id": case_id, "policy": post.policy, "level": 0, "assigned_person_id": None})
            steps += [_step(case_id, "page", 0, 0, 0, created, "done", created),
                      _step(case_id, "warning", 0, 0, 0, far - timedelta(seconds=WARNING_LEAD_SECONDS), "done",
                            created),
                      _step(case_id, "escalate", 1, 0, 0, far, "pending", created)]
            for person in {post.worker_id, post.backup_id} - {None}:
                recipients.append({"case_id": case_id, "person_id": person, "level": 0,
                                   "ack_token": f"bench-{case_id}-{person}", "acked_at": None, "created_at": created})
                for seq in (1, 2):
                    steps.append(_step(case_id, "repage", 0, person, seq,
                                       created + timedelta(seconds=REPAGE_SECONDS * seq), "done", created))
                if repages:  # the third re-page falls due with the escalation, as on an unacknowledged case
                    steps.append(_step(case_id, "repage", 0, person, 3, far, "pending", created))
        conn.execute(insert(escalations_table), escalations)
        conn.execute(insert(steps_table), steps)
        conn.execute(insert(recipients_table), recipients)
    return ids


def _step(case_id: int, kind: str, level: int, person_id: int, seq: int, due_at: datetime, state: str,
          created_at: datetime) -> dict:
    return {"case_id": case_id, "kind": kind, "level": level, "person_id": person_id, "seq": seq, "due_at": due_at,
            "state": state, "done_at": due_at if state == "done" else None, "created_at": created_at}


def move_deadlines(engine: Engine, ids: list[int], first_due: datetime, window_seconds: float) -> None:
    """Spread the open cases' deadlines evenly over [first_due, first_due + window]."""
    spacing = window_seconds / max(1, len(ids))
    dues = {case_id: first_due + timedelta(seconds=n * spacing) for n, case_id in enumerate(ids)}
    with engine.begin() as conn:
        conn.execute(update(cases_table).where(cases_table.c.id == bindparam("b_id")).values(
            created_at=bindparam("b_created"), contact_due_at=bindparam("b_due")),
            [{"b_id": i, "b_created": d - timedelta(seconds=SLA_SECONDS), "b_due": d} for i, d in dues.items()])
        conn.execute(update(steps_table).where(steps_table.c.case_id == bindparam("b_id"),
                                               steps_table.c.state == "pending").values(due_at=bindparam("b_due")),
                     [{"b_id": i, "b_due": d} for i, d in dues.items()])


# --- closed cases, in bulk ---

CLOSED_STEPS = [("page", 0, 0, 0, "done"), ("warning", 0, 0, SLA_SECONDS - WARNING_LEAD_SECONDS, "done"),
                ("escalate", 1, 0, SLA_SECONDS, "cancelled"), ("repage", 0, 1, REPAGE_SECONDS, "cancelled")]


def prepare_closed(engine: Engine, conn, posts: list[Post]) -> None:
    """Temporary lookup tables the INSERT ... SELECTs join (one connection holds them)."""
    json_type = "json" if engine.dialect.name == "postgresql" else "TEXT"
    conn.execute(text(f"CREATE TEMP TABLE bench_grid (rn INTEGER PRIMARY KEY, grid_id INTEGER, worker_id INTEGER, "
                      f"policy {json_type})"))
    conn.execute(text("CREATE INDEX bench_grid_grid_id ON bench_grid (grid_id)"))
    conn.execute(text("INSERT INTO bench_grid VALUES (:rn, :grid_id, :worker_id, :policy)"),
                 [{"rn": n, "grid_id": p.grid_id, "worker_id": p.worker_id, "policy": json.dumps(p.policy)}
                  for n, p in enumerate(posts)])
    conn.execute(text("CREATE TEMP TABLE bench_kind (kind TEXT, level INTEGER, seq INTEGER, offset_seconds INTEGER, "
                      "state TEXT)"))
    conn.execute(text("INSERT INTO bench_kind VALUES (:k, :l, :s, :o, :st)"),
                 [{"k": k, "l": lv, "s": s, "o": o, "st": st} for k, lv, s, o, st in CLOSED_STEPS])


def insert_closed(engine: Engine, conn, *, first: int, last: int, grids: int) -> None:
    """Closed cases number first..last (inclusive), a few seconds apart over the past year, with their rows."""
    after = conn.execute(select(func.coalesce(func.max(cases_table.c.id), 0))).scalar_one()
    base = int(time.time()) - 7 * 86400
    if engine.dialect.name == "postgresql":
        numbers = "generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n(i)"
        code, moment = "'H' || lpad(i::text, 9, '0')", "to_timestamp(CAST(:base AS bigint) - i * 30)"
        plus = "{} + make_interval(secs => {})".format
    else:
        numbers = "(WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i < :last) " \
                  "SELECT i FROM n) AS n"
        code, moment = "printf('H%09d', i)", "strftime('%Y-%m-%d %H:%M:%S', :base - i * 30, 'unixepoch') || '.000000'"

        def plus(column: str, seconds: str) -> str:
            return f"strftime('%Y-%m-%d %H:%M:%S', {column}, '+' || ({seconds}) || ' seconds') || '.000000'"
    params = {"first": first, "last": last, "base": base, "grids": grids, "after": after}
    conn.execute(text(f"""
        INSERT INTO cases (tracking_code, grid_id, category_code, description, contact_phone, contact_name, channel,
                           status, created_at, contact_due_at, contacted_at, contacted_on_time, closed_at,
                           upload_token_hash, upload_expires_at)
        SELECT {code}, g.grid_id, 'repairs', '历史反映：路灯不亮', '+8613900000000', '居民', 'qr', 'closed', {moment},
               {plus(moment, str(SLA_SECONDS))}, {plus(moment, '600')}, TRUE, {plus(moment, '86400')}, :hash,
               {plus(moment, '86400')}
        FROM {numbers} JOIN bench_grid g ON g.rn = i % :grids"""), {**params, "hash": "0" * 64})
    conn.execute(text("""
        INSERT INTO case_escalation (case_id, policy, level, assigned_person_id)
        SELECT c.id, g.policy, 0, NULL FROM cases c JOIN bench_grid g ON g.grid_id = c.grid_id WHERE c.id > :after"""),
        params)
    conn.execute(text(f"""
        INSERT INTO case_step (case_id, kind, level, person_id, seq, due_at, state, done_at, created_at)
        SELECT c.id, k.kind, k.level, CASE WHEN k.kind = 'repage' THEN g.worker_id ELSE 0 END, k.seq,
               {plus('c.created_at', 'k.offset_seconds')}, k.state,
               CASE WHEN k.state = 'done' THEN {plus('c.created_at', 'k.offset_seconds')} END, c.created_at
        FROM cases c JOIN bench_grid g ON g.grid_id = c.grid_id CROSS JOIN bench_kind k WHERE c.id > :after"""),
        params)
    notification_id = "'h' || lpad(s.id::text, 31, '0')" if engine.dialect.name == "postgresql" \
        else "printf('h%031d', s.id)"
    conn.execute(text(f"""
        INSERT INTO notification (id, case_id, step_id, recipient_key, person_id, phone, kind, level, channel,
                                  payload, state, attempts, next_attempt_at, created_at, delivered_at)
        SELECT {notification_id}, s.case_id, s.id, 'person:' || g.worker_id || ':' || 'page', g.worker_id,
               '+8613700000000', 'page', 0, 'webhook', '{{}}', 'delivered', 1, s.due_at, s.due_at, s.due_at
        FROM case_step s JOIN cases c ON c.id = s.case_id JOIN bench_grid g ON g.grid_id = c.grid_id
        WHERE s.case_id > :after AND s.kind = 'page'"""), params)


def load_closed(engine: Engine, posts: list[Post], *, first: int, last: int) -> float:
    """Closed cases first..last in chunks (one transaction each); seconds taken."""
    started = time.perf_counter()
    with engine.connect() as conn:
        with conn.begin():
            prepare_closed(engine, conn, posts)
        for chunk_first in range(first, last + 1, CLOSED_CHUNK):
            chunk_last = min(last, chunk_first + CLOSED_CHUNK - 1)
            with conn.begin():
                insert_closed(engine, conn, first=chunk_first, last=chunk_last, grids=len(posts))
            print(f"    closed cases {chunk_first:,}-{chunk_last:,} loaded ({time.perf_counter() - started:.0f} s)",
                  flush=True)
        with conn.begin():
            conn.execute(text("DROP TABLE bench_grid"))
            conn.execute(text("DROP TABLE bench_kind"))
    settle(engine)
    return time.perf_counter() - started


def settle(engine: Engine) -> None:
    """Let the bulk load's after-effects finish before timing anything (autovacuum, checkpoints, a long WAL)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM (ANALYZE)"))  # what autovacuum does in a city that has grown to this size
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


# --- the idle sweep, timed in this process ---

@dataclass(frozen=True)
class IdleCost:
    """Median milliseconds of each periodic job's query when nothing is due."""

    closed: int
    sweep_ms: float
    claim_ms: float
    audit_ms: float
    buffers: str  # Postgres: pages the sweep's claim query touches (EXPLAIN ANALYZE BUFFERS)


def time_idle(env: dict[str, str], engine: Engine, *, closed: int, quiet_at: datetime, runs: int) -> IdleCost:
    """sweeper.sweep_once, Sender.claim and sweeper.overdue at a moment when nothing is due."""
    from app.config import get_settings
    from app.db import reset_engine
    from app.escalation import sweeper
    from app.paging.sender import Sender

    os.environ.update({k: v for k, v in env.items() if k.startswith("MASHANG_")})
    get_settings.cache_clear()
    reset_engine()
    settings = get_settings()
    sender = Sender(settings)

    def median_ms(job) -> float:
        for _ in range(3):
            job()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            job()
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    try:
        cost = IdleCost(closed, median_ms(lambda: sweeper.sweep_once(settings=settings, now=quiet_at)),
                        median_ms(lambda: sender.claim(now=quiet_at)),
                        median_ms(lambda: sweeper.overdue(now=quiet_at)), claim_buffers(engine, quiet_at))
    finally:
        reset_engine()
    return cost


CLAIM_QUERY = "SELECT id FROM case_step WHERE state = 'pending' AND due_at <= :now ORDER BY due_at, id LIMIT 200"


def claim_buffers(engine: Engine, quiet_at: datetime) -> str:
    """Shared buffers the claim query touches on Postgres ('-' on SQLite)."""
    if engine.dialect.name != "postgresql":
        return "-"
    with engine.connect() as conn:
        plan = [r[0] for r in conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {CLAIM_QUERY} FOR UPDATE SKIP LOCKED"),
                                           {"now": quiet_at})]
    return next((line.split("Buffers:")[1].strip() for line in plan if "Buffers:" in line), "?")


def claim_plan(engine: Engine, quiet_at: datetime) -> str:
    """How the database answers the sweep's claim query (the index it uses)."""
    query = CLAIM_QUERY
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            rows = conn.execute(text(f"EXPLAIN {query} FOR UPDATE SKIP LOCKED"), {"now": quiet_at})
            return " / ".join(r[0].strip() for r in rows)
        now = quiet_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return " / ".join(r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"), {"now": now}))


# --- the live run ---

@dataclass
class Latency:
    """Deadline-to-webhook seconds of every escalation webhook, and the sweep's pickup lag per step."""

    to_webhook: list[float] = field(default_factory=list)
    pickup: list[float] = field(default_factory=list)
    expected: int = 0
    received: int = 0
    run_seconds: float = 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def live_run(env: dict[str, str], engine: Engine, workdir: Path, ids: list[int], expected: int, *,
             lead_seconds: float, window_seconds: float) -> Latency:
    """Serve with the webhook on a local receiver; wait for every escalation webhook (or give up)."""
    latency = Latency(expected=expected)
    with Receiver() as receiver:
        env = {**env, "MASHANG_PAGER_WEBHOOK_URL": receiver.url, "MASHANG_PAGER_WEBHOOK_SECRET": SECRET}
        server = mashang_server(env, workdir=workdir)
        # The server needs a few seconds to start; the first deadline falls lead_seconds from now.
        first_due = datetime.now(UTC) + timedelta(seconds=lead_seconds)
        move_deadlines(engine, ids, first_due, window_seconds)
        started = time.monotonic()
        try:
            server.start(timeout_seconds=lead_seconds)
            deadline = time.monotonic() + lead_seconds + window_seconds + 300
            while time.monotonic() < deadline:
                seen = {d.id for d in receiver.deliveries() if b'"kind":"escalation"' in d.body}
                if len(seen) >= expected:
                    break
                time.sleep(0.5)
        finally:
            server.stop()
        latency.run_seconds = time.monotonic() - started
        first_arrival: dict[str, float] = {}
        for delivery in receiver.deliveries():
            payload = delivery.payload
            if payload["kind"] == "escalation" and delivery.id not in first_arrival:
                due = datetime.fromisoformat(payload["case"]["contact_due_at"].replace("Z", "+00:00"))
                first_arrival[delivery.id] = delivery.received_at - due.timestamp()
        latency.to_webhook = list(first_arrival.values())
        latency.received = len(latency.to_webhook)
        with engine.connect() as conn:
            rows = conn.execute(select(steps_table.c.due_at, steps_table.c.done_at).where(
                steps_table.c.kind == "escalate", steps_table.c.level == 1, steps_table.c.done_at.is_not(None),
                steps_table.c.case_id.between(min(ids), max(ids))))
            latency.pickup = [(done - due).total_seconds() for due, done in rows]
        if "Traceback" in server.log_path.read_text(errors="replace"):
            print(f"    the server logged exceptions: see {server.log_path}", flush=True)
    return latency


# --- one backend ---

@dataclass
class Result:
    backend: str
    closed: int
    open: int
    load_seconds: float = 0.0
    idle: list[IdleCost] = field(default_factory=list)
    plan: str = ""
    latency: Latency | None = None
    total_seconds: float = 0.0


def run_backend(backend: str, args: argparse.Namespace) -> Result:
    started = time.perf_counter()
    result = Result(backend, args.closed, args.open)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-escalation-{backend}-"))
    admin = pg_admin_url()
    url = create_pg_database(admin, prefix="mashang_bench_escalation") if backend == "postgres" \
        else f"sqlite:///{workdir / 'mashang.db'}"
    extra = {"MASHANG_PAGER_MIN_INTERVAL_SECONDS": str(args.pacing)}
    if args.sweep_interval is not None:
        extra["MASHANG_SWEEP_INTERVAL_SECONDS"] = str(args.sweep_interval)
    env = server_env(url, workdir=workdir, extra=extra)
    engine = create_engine(url, poolclass=NullPool)
    try:
        print(f"[{backend}] migrate, demo city, a Lanzhou-sized city ({url})", flush=True)
        prepare_database(env, workdir=workdir)
        import_city(env, workdir)
        posts = basic_grids(engine)
        print(f"[{backend}] {args.open:,} open cases", flush=True)
        ids = load_open(engine, posts, args.open, repages=args.repages)
        quiet_at = datetime.now(UTC) + timedelta(hours=1)
        due = min(args.due, args.open)
        expected = sum(posts[n % len(posts)].expected_escalations for n in range(due))
        first = min(FIRST_CLOSED_MEASURE, args.closed)
        print(f"[{backend}] closed cases 1-{first:,}", flush=True)
        result.load_seconds += load_closed(engine, posts, first=1, last=first)
        result.idle.append(time_idle(env, engine, closed=first, quiet_at=quiet_at, runs=args.runs))
        if args.closed > first:
            print(f"[{backend}] closed cases {first + 1:,}-{args.closed:,}", flush=True)
            result.load_seconds += load_closed(engine, posts, first=first + 1, last=args.closed)
            result.idle.append(time_idle(env, engine, closed=args.closed, quiet_at=quiet_at, runs=args.runs))
        result.plan = claim_plan(engine, quiet_at)
        print(f"[{backend}] serving; {due:,} deadlines spread over {args.window:.0f} s from {args.lead:.0f} s after "
              "start",
              flush=True)
        result.latency = live_run(env, engine, workdir, ids[:due], expected, lead_seconds=args.lead,
                                  window_seconds=args.window)
    finally:
        engine.dispose()
        if backend == "postgres" and not args.keep:
            drop_pg_database(admin, url)
        elif args.keep:
            print(f"[{backend}] kept {url}")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result.total_seconds = time.perf_counter() - started
    return result


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\nEscalation: {args.open:,} open cases, {min(args.due, args.open):,} of them due over {args.window:.0f} s "
          f"({min(args.due, args.open) / args.window:.1f}/s), {args.closed:,} closed, pacing {args.pacing} s, "
          f"re-pages due with the escalation: {'yes' if args.repages else 'no'}")
    print(f"{'backend':<9} {'webhooks':>13} {'p50 s':>7} {'p95 s':>7} {'p99 s':>7} {'max s':>7} "
          f"{'pickup p99 s':>13} {'target':>7}")
    for r in results:
        lat = r.latency
        if lat is None:
            continue
        p99 = percentile(lat.to_webhook, 99)
        ok = "met" if lat.received >= lat.expected and p99 <= TARGET_P99_SECONDS else "MISSED"
        print(f"{r.backend:<9} {f'{lat.received:,}/{lat.expected:,}':>13} {percentile(lat.to_webhook, 50):>7.2f} "
              f"{percentile(lat.to_webhook, 95):>7.2f} {p99:>7.2f} {max(lat.to_webhook, default=float('nan')):>7.2f} "
              f"{percentile(lat.pickup, 99):>13.2f} {ok:>7}")
    print("\nIdle sweep (nothing due), median ms")
    print(f"{'backend':<9} {'closed':>10} {'sweep_once':>11} {'claim':>7} {'audit':>7}  claim query buffers")
    for r in results:
        for cost in r.idle:
            print(f"{r.backend:<9} {cost.closed:>10,} {cost.sweep_ms:>11.2f} {cost.claim_ms:>7.2f} "
                  f"{cost.audit_ms:>7.2f}  {cost.buffers}")
    print("\nClaim query plan")
    for r in results:
        print(f"{r.backend:<9} {r.plan}")
    print("\nTime taken")
    for r in results:
        print(f"{r.backend:<9} loading closed cases {r.load_seconds:.0f} s, serving "
              f"{r.latency.run_seconds if r.latency else 0:.0f} s, total {r.total_seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--closed", type=int, default=1_000_000, help="closed cases in the database")
    parser.add_argument("--open", type=int, default=10_000, help="open cases in the database")
    parser.add_argument("--due", type=int, default=1_000, help="how many of them fall due in the window")
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which the deadlines are spread")
    parser.add_argument("--lead", type=float, default=20.0, help="seconds from server start to the first deadline")
    parser.add_argument("--pacing", type=int, default=0,
                        help="MASHANG_PAGER_MIN_INTERVAL_SECONDS (default 0: the engine's own latency)")
    parser.add_argument("--sweep-interval", type=float, default=None,
                        help="MASHANG_SWEEP_INTERVAL_SECONDS (default: the server's default)")
    parser.add_argument("--repages", action="store_true",
                        help="also the worker's and backup's re-pages due with the escalation")
    parser.add_argument("--runs", type=int, default=200, help="runs per idle-sweep median")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run_backend(backend, args) for backend in backends]
    report(results, args)


if __name__ == "__main__":
    main()
