"""Taking in reports: validate, then write concurrent reports in one transaction (group commit).

A request is answered only after the transaction that holds its case has committed, so a 201 is
durable; batching amortises the commit and keeps the ORM off the hot path (Core statements only).
"""

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.bulk import insert_rows, reserve_ids
from app.config import Settings
from app.db import get_engine, sqlite_write_turn
from app.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, TooManyRequests
from app.escalation import service as escalation_service
from app.grids.models import GridToken
from app.phones import normalize_phone
from app.reports import codes, ratelimit
from app.reports.models import Case, CaseEvent, CaseStatus, Category, Channel, CreatedCase, IdempotencyKey
from app.reports.schemas import ReportCreate

log = logging.getLogger("mashang.intake")

IDEMPOTENCY_TTL = timedelta(days=8)
UPLOAD_TOKEN_TTL = timedelta(hours=24)
MAX_BATCH = 256
GATHER_BELOW = 64  # a batch smaller than this waits GATHER_SECONDS for more reports before it is written
GATHER_SECONDS = 0.005
REPORT_SCOPE = "report"

cases_table = Case.__table__
events_table = CaseEvent.__table__
keys_table = IdempotencyKey.__table__

# What every batch reads, built once (a statement built per batch cost more than running it).
_token_columns = GridToken.__table__.c
_TOKENS = select(_token_columns.token, _token_columns.grid_id, _token_columns.replaced_at).where(
    _token_columns.token.in_(bindparam("tokens", expanding=True)))
_ACTIVE_CATEGORIES = select(Category.__table__.c.code).where(Category.__table__.c.active.is_(True))
_STORED_KEYS = select(keys_table.c.key, keys_table.c.request_hash, keys_table.c.response_body).where(
    keys_table.c.scope == REPORT_SCOPE, keys_table.c.key.in_(bindparam("keys", expanding=True)))


# The scheduler registers here to wake at once when a case is committed (the sweep would find it anyway).
after_commit_hooks: list[Callable[[list[CreatedCase]], None]] = []


@dataclass
class Pending:
    """One validated report waiting for its transaction."""

    values: dict
    grid_token: str
    answer: dict
    phone_keys: list[str]
    idempotency_key: str | None
    request_hash: str | None
    result: object = None
    done: threading.Event = field(default_factory=threading.Event)


def canonical_hash(body: object) -> str:
    """The same JSON body, however it was spaced or ordered, hashes the same."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(report: ReportCreate, *, raw_body: object, idempotency_key: str | None, settings: Settings) -> Pending:
    """Validate what needs no database and fix every value the case will have."""
    contact_phone = normalize_phone(report.contact_phone, field="contact_phone")
    proxy = report.on_behalf_of
    proxy_phone = None
    if proxy is not None:
        if proxy.phone:
            proxy_phone = normalize_phone(proxy.phone, field="on_behalf_of.phone")
        elif proxy.call.value in ("relative", "both"):
            raise InvalidInput("invalid_phone", field="on_behalf_of.phone",
                               message="请填写家人的电话，网格员才能联系他们",
                               message_en="Give the relative's phone so the grid worker can call them")
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 100):
        raise InvalidInput("validation_error", field="Idempotency-Key",
                           message="Idempotency-Key 须为 1 到 100 个字符",
                           message_en="Idempotency-Key must be 1 to 100 characters")
    now = clock.now()
    due = now + timedelta(seconds=settings.contact_sla_seconds)
    tracking_code = codes.new_tracking_code()
    upload_token = codes.new_upload_token()
    location = report.location
    values = {
        "tracking_code": tracking_code, "category_code": report.category, "description": report.description,
        "contact_phone": contact_phone, "contact_name": report.contact_name,
        "proxy_name": proxy.name if proxy else None, "proxy_phone": proxy_phone,
        "proxy_relation": proxy.relation if proxy else None, "proxy_call": proxy.call.value if proxy else None,
        "lat": location.lat if location else None, "lng": location.lng if location else None,
        "accuracy_m": location.accuracy_m if location else None,
        "channel": Channel.qr.value, "status": CaseStatus.open.value, "created_at": now, "contact_due_at": due,
        "upload_token_hash": codes.digest(upload_token), "upload_expires_at": now + UPLOAD_TOKEN_TTL,
    }
    answer = {
        "tracking_code": tracking_code, "status": CaseStatus.open.value,
        "created_at": now.isoformat().replace("+00:00", "Z"), "contact_due_at": due.isoformat().replace("+00:00", "Z"),
        "track_url": f"{settings.public_url}/t/{tracking_code}", "upload_token": upload_token,
    }
    phone_keys = [f"phone:{contact_phone}"]
    return Pending(values=values, grid_token=report.grid_token, answer=answer, phone_keys=phone_keys,
                   idempotency_key=idempotency_key,
                   request_hash=canonical_hash(raw_body) if idempotency_key is not None else None)


def _begin(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.info["sqlite_begin"] = "BEGIN IMMEDIATE"


def _key_mismatch() -> InvalidInput:
    return InvalidInput("idempotency_mismatch", field="Idempotency-Key",
                        message="这个 Idempotency-Key 已用于另一份内容不同的反映",
                        message_en="This Idempotency-Key was already used with a different body")


def _in_flight() -> Conflict:
    return Conflict("idempotency_in_flight", field="Idempotency-Key",
                    message="同一份反映正在提交中，请稍候", message_en="The same report is still being submitted")


def _replay(row, pending: Pending) -> object:
    if row.request_hash != pending.request_hash:
        return _key_mismatch()
    return json.loads(row.response_body)


def write_batch(batch: list[Pending], *, settings: Settings, attempts: int = 2) -> None:
    """Write a batch in one transaction; on an unexpected failure, retry each report on its own."""
    try:
        _write(batch, settings=settings)
    except _KeyRace:
        # Another instance committed one of these keys meanwhile: a retry finds and replays it.
        if len(batch) > 1:
            for pending in batch:
                write_batch([pending], settings=settings)
        elif attempts > 1:
            write_batch(batch, settings=settings, attempts=attempts - 1)
        else:
            batch[0].result = _in_flight()
    except Exception:
        if len(batch) == 1:
            log.exception("report could not be written")
            batch[0].result = DomainError("internal_error", status_code=503,
                                          message="暂时无法保存，请稍后重试", message_en="Could not save; retry")
            return
        log.warning("batch of %d failed; writing one by one", len(batch), exc_info=True)
        for pending in batch:
            write_batch([pending], settings=settings)


def _write(batch: list[Pending], *, settings: Settings) -> None:
    engine = get_engine()
    with sqlite_write_turn(engine), engine.connect() as conn:
        _begin(conn)
        with conn.begin():
            results = _write_in(conn, batch, settings=settings)
        created = [r for r in results if isinstance(r, CreatedCase)]
    for pending, result in zip(batch, results, strict=True):
        pending.result = pending.answer if isinstance(result, CreatedCase) else result
    if created:
        for hook in after_commit_hooks:
            try:
                hook(created)
            except Exception:  # a wake-up failing must not fail the reports: the sweep finds them anyway
                log.exception("after-commit hook failed")


def _write_in(conn: Connection, batch: list[Pending], *, settings: Settings) -> list[object]:
    now = clock.now()
    results: list[object] = [None] * len(batch)
    token_rows = {r.token: r for r in conn.execute(_TOKENS, {"tokens": sorted({p.grid_token for p in batch})})}
    active = set(conn.execute(_ACTIVE_CATEGORIES).scalars())
    keyed = [p.idempotency_key for p in batch if p.idempotency_key is not None]
    stored = {}
    if keyed:
        stored = {r.key: r for r in conn.execute(_STORED_KEYS, {"keys": keyed})}
    fresh: list[int] = []
    seen_keys: dict[str, int] = {}
    for index, pending in enumerate(batch):
        key = pending.idempotency_key
        if key is not None and key in stored:
            results[index] = _replay(stored[key], pending)
            continue
        if key is not None and key in seen_keys:
            first = batch[seen_keys[key]]
            same = first.request_hash == pending.request_hash
            results[index] = ("same_as", seen_keys[key]) if same else _key_mismatch()
            continue
        token = token_rows.get(pending.grid_token)
        if token is None:
            results[index] = NotFound("grid_not_found", field="grid_token")
        elif token.replaced_at is not None:
            results[index] = Gone("token_replaced", field="grid_token")
        elif pending.values["category_code"] not in active:
            results[index] = InvalidInput("unknown_category", field="category",
                                          message="没有这个问题类别", message_en="Unknown category")
        else:
            pending.values["grid_id"] = token.grid_id
            if key is not None:
                seen_keys[key] = index
            fresh.append(index)
    if settings.rate_limits and fresh:
        refused = ratelimit.over_limit(conn, keys=[batch[i].phone_keys for i in fresh], now=now)
        for position in sorted(refused, reverse=True):
            index = fresh.pop(position)
            results[index] = TooManyRequests("rate_limited", field="contact_phone",
                                             retry_after_seconds=refused[position])
            key = batch[index].idempotency_key
            if key is not None and seen_keys.get(key) == index:
                del seen_keys[key]
    if not fresh:
        return [_resolve(r, results) for r in results]
    with_keys = [i for i in fresh if batch[i].idempotency_key is not None]
    if with_keys:
        rows = [{"scope": REPORT_SCOPE, "key": batch[i].idempotency_key, "request_hash": batch[i].request_hash,
                 "response_status": 201, "response_body": json.dumps(batch[i].answer), "created_at": now,
                 "expires_at": now + IDEMPOTENCY_TTL} for i in with_keys]
        # Another instance may hold the same key in an uncommitted transaction: the constraint decides.
        try:
            with conn.begin_nested():
                insert_rows(conn, keys_table, rows)
        except IntegrityError:
            raise _KeyRace() from None
    # Ids drawn up front: a bulk INSERT ... RETURNING in parameter order runs one statement per row on SQLite.
    ids = reserve_ids(conn, cases_table, len(fresh))
    created: list[CreatedCase] = []
    for index, case_id in zip(fresh, ids, strict=True):
        v = batch[index].values
        v["id"] = case_id
        made = CreatedCase(case_id, v["tracking_code"], v["grid_id"], v["category_code"], v["created_at"],
                           v["contact_due_at"])
        created.append(made)
        results[index] = made
    insert_rows(conn, cases_table, [batch[i].values for i in fresh])
    insert_rows(conn, events_table, [
        {"case_id": c.id, "kind": "created", "at": c.created_at, "public": True, "actor_id": None,
         "detail": {"channel": Channel.qr.value}} for c in created])
    escalation_service.schedule_new_cases(conn, created, settings=settings)
    return [_resolve(r, results) for r in results]


def _resolve(result: object, results: list[object]) -> object:
    if isinstance(result, tuple) and result[0] == "same_as":
        first = results[result[1]]
        return first if isinstance(first, CreatedCase) else _in_flight()
    return result


class _KeyRace(Exception):
    """An idempotency key was committed by another instance mid-batch; retry one by one."""


class IntakeWriter:
    """Collects reports from concurrent requests and writes them in shared transactions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._queue: asyncio.Queue[tuple[Pending, asyncio.Future]] | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-writer")
        self._in_flight: dict[str, str] = {}

    def _ensure_running(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run())
        return self._queue

    async def submit(self, pending: Pending) -> dict:
        """The 201 answer once the case is committed; raises a DomainError otherwise."""
        queue = self._ensure_running()
        key = pending.idempotency_key
        if key is not None:
            if key in self._in_flight:
                raise _in_flight() if self._in_flight[key] == pending.request_hash else _key_mismatch()
            self._in_flight[key] = pending.request_hash
        try:
            future = asyncio.get_running_loop().create_future()
            await queue.put((pending, future))
            result = await future
        finally:
            if key is not None:
                self._in_flight.pop(key, None)
        if isinstance(result, DomainError):
            raise result
        return result

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._queue is not None
        while True:
            items = [await self._queue.get()]
            while len(items) < MAX_BATCH and not self._queue.empty():
                items.append(self._queue.get_nowait())
            if len(items) < GATHER_BELOW:
                # Let the requests already arriving join this transaction: a commit costs ~1.5 ms whatever its
                # size, so a few small batches cost far more than one larger one, and the wait is short.
                await asyncio.sleep(GATHER_SECONDS)
                while len(items) < MAX_BATCH and not self._queue.empty():
                    items.append(self._queue.get_nowait())
            batch = [p for p, _ in items]
            try:
                await loop.run_in_executor(self._executor, self._write, batch)
            except Exception:  # noqa: BLE001 - every waiting request must get an answer
                log.exception("intake writer failed")
            for pending, future in items:
                if not future.done():
                    result = pending.result if pending.result is not None else DomainError(
                        "internal_error", status_code=503, message="暂时无法保存，请稍后重试",
                        message_en="Could not save the report; please retry")
                    future.set_result(result)

    def _write(self, batch: list[Pending]) -> None:
        write_batch(batch, settings=self.settings)


def submit_sync(pending: Pending, *, settings: Settings) -> dict:
    """Write one report now (CLI, tests, other channels); same rules as the HTTP path."""
    write_batch([pending], settings=settings)
    if isinstance(pending.result, DomainError):
        raise pending.result
    return pending.result
