"""The 30-minute rule: page, re-page, warn, escalate; acknowledge, contact, reassign, close.

Every step is a row with a due time (CaseStep). The sweeper runs due steps; each step's effects and
its "done" mark commit together, so a step happens once however many instances sweep.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace

from sqlalchemy import Connection, Dialect, Table, bindparam, func, text, update
from sqlmodel import Session, select

from app import clock
from app.bulk import Prepared, execute, insert_rows, prepare_insert, prepare_update
from app.config import Settings
from app.errors import Conflict, Gone, InvalidInput, NotFound
from app.escalation.models import (
    CaseEscalation,
    CaseRecipient,
    CaseStep,
    ContactView,
    EscalationPolicy,
    StepKind,
    StepState,
)
from app.grids.models import Grid
from app.paging import payload as payloads
from app.paging.models import Notification, PushSubscription
from app.people.models import Person, Role
from app.reports.models import Case, CaseEvent, CaseStatus, Category, CreatedCase

steps_table = CaseStep.__table__
escalations_table = CaseEscalation.__table__


# --- policy and the first steps, written in the same transaction as the case ---

# Every grid of the batch and its ancestors in one statement (built once): the walk up the tree was a query per
# level per batch, each built anew, and intake runs it inside its write transaction.
_ANCESTRY = text(
    "WITH RECURSIVE up(id, parent_id) AS ("
    " SELECT id, parent_id FROM grid WHERE id IN :ids"
    " UNION SELECT g.id, g.parent_id FROM grid g JOIN up ON g.id = up.parent_id"
    ") SELECT id, parent_id FROM up").bindparams(bindparam("ids", expanding=True))


def chains_of(conn: Connection, grid_ids: set[int] | list[int]) -> dict[int, list[int]]:
    """For each grid, the grid ids from it up to the top of the tree (a cycle ends the walk)."""
    if not grid_ids:
        return {}
    parents = {grid_id: parent for grid_id, parent in conn.execute(_ANCESTRY, {"ids": sorted(grid_ids)})}
    chains = {}
    for grid_id in grid_ids:
        chain = [grid_id]
        while True:
            parent = parents.get(chain[-1])
            if parent is None or parent in chain:
                break
            chain.append(parent)
        chains[grid_id] = chain
    return chains


def policy_from(settings: Settings, chain: list[int]) -> dict:
    return EscalationPolicy(
        contact_sla_seconds=settings.contact_sla_seconds, repage_seconds=settings.repage_seconds,
        warning_lead_seconds=settings.warning_lead_seconds,
        escalation_step_seconds=settings.escalation_step_seconds, chain=chain,
    ).model_dump()


def schedule_new_cases(conn: Connection, created: list[CreatedCase], *, settings: Settings) -> None:
    """Copy the policy onto each new case and schedule its page, warning and first escalation."""
    # By grid: one policy per grid in the batch, not one model per case.
    policies = {grid_id: policy_from(settings, chain)
                for grid_id, chain in chains_of(conn, {case.grid_id for case in created}).items()}
    escalations, steps = [], []
    for case in created:
        policy = policies[case.grid_id]
        chain = policy["chain"]
        escalations.append({"case_id": case.id, "policy": policy, "level": 0, "assigned_person_id": None})
        steps.append(_step(case.id, StepKind.page, 0, case.created_at, case.created_at))
        warn_at = case.contact_due_at - timedelta(seconds=settings.warning_lead_seconds)
        if warn_at > case.created_at:
            steps.append(_step(case.id, StepKind.warning, 0, warn_at, case.created_at))
        if len(chain) > 1:
            steps.append(_step(case.id, StepKind.escalate, 1, case.contact_due_at, case.created_at))
    insert_rows(conn, escalations_table, escalations)
    insert_rows(conn, steps_table, steps)


def _step(case_id: int, kind: StepKind, level: int, due_at: datetime, now: datetime, person_id: int = 0,
          seq: int = 0) -> dict:
    return {"case_id": case_id, "kind": kind.value, "level": level, "person_id": person_id, "seq": seq,
            "due_at": due_at, "state": StepState.pending.value, "done_at": None, "created_at": now}


# --- running one step ---

# What a step reads of its case: the columns a page's payload and the step logic use, no more.
_CASE_COLUMNS = tuple(Case.__table__.c[name] for name in (
    "id", "status", "grid_id", "category_code", "tracking_code", "description", "created_at", "contact_due_at"))
STEP_COLUMNS = tuple(steps_table.c[name] for name in ("id", "case_id", "kind", "level", "person_id", "seq", "due_at"))


class StepBatch:
    """What a claimed batch of steps needs, loaded with a handful of queries instead of several per step.

    The rows are plain Core rows (read-only, by attribute), kept here by primary key: a sweep loads about ten
    rows per step, and ORM objects for them (identity map, change tracking) cost more than the rest of the step.
    A step changes nothing it loaded: what it writes goes through _insert and _update. Recipients, re-page
    sequence numbers and push subscriptions are updated as the batch's steps add to them, so running the
    batch's steps issues no query at all on the usual paths.
    """

    def __init__(self, session: Session, steps: list, settings: Settings) -> None:
        case_ids = sorted({step.case_id for step in steps})
        self.recipients: dict[tuple[int, int], object] = {}
        self.repage_seq: dict[tuple[int, int, int], int] = {}
        self.subscriptions: dict[int, list] = {}  # loaded only when Web Push is on
        self.policies: dict[int, EscalationPolicy] = {}  # by case id, parsed once
        self._loaded: dict[type, dict] = {Case: {}, CaseEscalation: {}, Category: {}, Grid: {}, Person: {}}
        self._session = session
        if not case_ids:
            return
        conn = session.connection()
        cases = self._keep(Case, conn.execute(select(*_CASE_COLUMNS).where(Case.__table__.c.id.in_(case_ids))))
        esc = escalations_table.c
        escalations = self._keep(CaseEscalation, conn.execute(
            select(escalations_table).where(esc.case_id.in_(case_ids))), key="case_id")
        codes = {case.category_code for case in cases}
        categories = Category.__table__
        if codes:
            self._keep(Category, conn.execute(select(categories).where(categories.c.code.in_(codes))), key="code")
        grid_ids = {case.grid_id for case in cases}
        parsed: dict[str, EscalationPolicy] = {}  # cases of one grid share one policy: parse it once
        for escalation in escalations:
            text = repr(escalation.policy)  # the same JSON text parses to equal dicts with the same repr
            policy = parsed.get(text)
            if policy is None:
                # Written by policy_from, from validated settings: no need to validate it again.
                policy = parsed[text] = EscalationPolicy.model_construct(**escalation.policy)
                grid_ids.update(policy.chain)
            self.policies[escalation.case_id] = policy
        grids = Grid.__table__
        loaded_grids = self._keep(Grid, conn.execute(select(grids).where(grids.c.id.in_(grid_ids)))
                                  if grid_ids else [])
        person_ids = {pid for grid in loaded_grids for pid in (grid.contact_id, grid.backup_id) if pid}
        person_ids.update(e.assigned_person_id for e in escalations if e.assigned_person_id)
        person_ids.update(step.person_id for step in steps if step.person_id)
        people = Person.__table__
        if person_ids:
            self._keep(Person, conn.execute(select(people).where(people.c.id.in_(person_ids))))
        rec = CaseRecipient.__table__
        for recipient in conn.execute(select(rec).where(rec.c.case_id.in_(case_ids))):
            self.recipients[(recipient.case_id, recipient.person_id)] = recipient
        st = steps_table.c
        for case_id, person_id, level, seq in conn.execute(
                select(st.case_id, st.person_id, st.level, func.max(st.seq))
                .where(st.case_id.in_(case_ids), st.kind == StepKind.repage.value)
                .group_by(st.case_id, st.person_id, st.level)):
            self.repage_seq[(case_id, person_id, level)] = seq or 0
        if settings.web_push_enabled and person_ids:
            subs = PushSubscription.__table__
            for sub in conn.execute(select(subs).where(subs.c.person_id.in_(person_ids)).order_by(subs.c.id)):
                self.subscriptions.setdefault(sub.person_id, []).append(sub)

    def _keep(self, model: type, result, *, key: str = "id") -> list:
        loaded = self._loaded[model]
        rows = result if isinstance(result, list) else result.all()
        for row in rows:
            loaded[getattr(row, key)] = row
        return rows

    def get(self, model: type, key):
        """A loaded row by primary key, or the session's (a row the batch did not load)."""
        row = self._loaded[model].get(key)
        return row if row is not None else self._session.get(model, key)

    def policy(self, escalation) -> EscalationPolicy:
        policy = self.policies.get(escalation.case_id)
        return policy if policy is not None else EscalationPolicy(**escalation.policy)


class StepContext:
    """What a step needs, loaded once."""

    def __init__(self, session: Session, step: CaseStep, now: datetime, settings: Settings,
                 batch: StepBatch) -> None:
        self.session, self.step, self.now, self.settings, self.batch = session, step, now, settings, batch
        self.case = batch.get(Case, step.case_id)
        self.escalation = batch.get(CaseEscalation, step.case_id)
        self.policy = batch.policy(self.escalation)
        self.category = batch.get(Category, self.case.category_code)
        self.grid = batch.get(Grid, self.case.grid_id)


def run_step(session: Session, *, step, now: datetime, settings: Settings, batch: StepBatch | None = None) -> str:
    """Perform one due step; its new state (done, or cancelled for a case no longer open), which the caller
    writes in the same transaction (mark_steps).

    step is a claimed row (STEP_COLUMNS). The step reads what it needs from batch, loaded for the claimed steps
    (this one included); without one it loads a batch of its own.
    """
    ctx = StepContext(session, step, now, settings, batch or StepBatch(session, [step], settings))
    if ctx.case.status != CaseStatus.open:
        return StepState.cancelled.value
    if step.kind == StepKind.page:
        _run_page(ctx)
    elif step.kind == StepKind.repage:
        _run_repage(ctx)
    elif step.kind == StepKind.warning:
        for person in level_recipients(ctx, 0):
            _notify(ctx, person, kind="warning", level=0)
        _event(session, ctx.case.id, "warned", now, public=False)
    elif step.kind == StepKind.escalate:
        _run_escalate(ctx)
    return StepState.done.value


def mark_steps(dialect: Dialect, states: list[tuple[int, str]], now: datetime) -> Prepared | None:
    """The UPDATE that records the claimed steps' new states (see run_step)."""
    return prepare_update(dialect, steps_table, [{"id": step_id, "state": state, "done_at": now}
                                                 for step_id, state in states], key=("id",))


def level_recipients(ctx: StepContext, level: int) -> list[Person]:
    """Who holds the post at this level now; level 0 is the assigned worker, else the grid's worker and backup."""
    if level == 0 and ctx.escalation.assigned_person_id:
        person = ctx.batch.get(Person, ctx.escalation.assigned_person_id)
        return [person] if person else []
    if level >= len(ctx.policy.chain):
        return []
    grid = ctx.batch.get(Grid, ctx.policy.chain[level])
    if grid is None:
        return []
    ids = [grid.contact_id] + ([grid.backup_id] if level == 0 else [])
    people = [ctx.batch.get(Person, pid) for pid in ids if pid]
    unique = {p.id: p for p in people if p is not None}
    return list(unique.values())


def _run_page(ctx: StepContext) -> None:
    step = ctx.step
    if step.person_id:
        person = ctx.batch.get(Person, step.person_id)
        people = [person] if person else []
    else:
        people = level_recipients(ctx, step.level)
    if not people:
        _record_vacancy(ctx, step.level)
        _escalate_now(ctx, step.level + 1)
        return
    for person in people:
        _page(ctx, person, kind="page", level=step.level)
    if step.level == 0:
        _event(ctx.session, ctx.case.id, "paged", ctx.now, public=True, detail={"level": 0})


def _run_repage(ctx: StepContext) -> None:
    step = ctx.step
    recipient = ctx.batch.recipients.get((ctx.case.id, step.person_id))
    person = ctx.batch.get(Person, step.person_id)
    if recipient is None or person is None or recipient.acked_at is not None:
        return
    _notify(ctx, person, kind="repage", level=step.level, recipient=recipient)
    _event(ctx.session, ctx.case.id, "repaged", ctx.now, public=False, detail={"level": step.level})
    if step.seq < ctx.policy.max_repages:
        interval = timedelta(seconds=ctx.policy.repage_seconds)
        # After downtime, the missed re-pages collapse into this one: the next is an interval from now.
        next_due = step.due_at + interval if step.due_at + interval > ctx.now else ctx.now + interval
        _add_step(ctx.session, ctx.case.id, StepKind.repage, step.level, next_due, ctx.now, person.id, step.seq + 1)
        seq_key = (ctx.case.id, person.id, step.level)
        ctx.batch.repage_seq[seq_key] = max(step.seq + 1, ctx.batch.repage_seq.get(seq_key, 0))


def _run_escalate(ctx: StepContext) -> None:
    level = ctx.step.level
    if level > ctx.escalation.level:
        _update(ctx.session, escalations_table, {"case_id": ctx.case.id, "level": level}, key=("case_id",))
    _event(ctx.session, ctx.case.id, "escalated", ctx.now, public=True, detail={"level": level})
    if level == 1:
        for worker in level_recipients(ctx, 0):
            _notify(ctx, worker, kind="escalation", level=0)
    people = level_recipients(ctx, level)
    if not people:
        _record_vacancy(ctx, level)
        _escalate_now(ctx, level + 1)
        return
    for person in people:
        _page(ctx, person, kind="escalation", level=level)
    if level + 1 < len(ctx.policy.chain):
        due = ctx.case.contact_due_at + timedelta(seconds=ctx.policy.escalation_step_seconds * level)
        _add_step(ctx.session, ctx.case.id, StepKind.escalate, level + 1, max(due, ctx.now), ctx.now)


def _escalate_now(ctx: StepContext, level: int) -> None:
    """A vacant level is skipped at once: the next level's escalation is brought forward to now."""
    if level >= len(ctx.policy.chain):
        _event(ctx.session, ctx.case.id, "nobody_to_page", ctx.now, public=False, detail={"level": level})
        return
    write_bulk(ctx.session)  # the batch's own new steps count too
    ctx.session.flush()
    ctx.session.info[_DUE_NOW] = True
    pending = ctx.session.exec(select(CaseStep).where(
        CaseStep.case_id == ctx.case.id, CaseStep.kind == StepKind.escalate, CaseStep.level == level,
        CaseStep.state == StepState.pending)).first()
    if pending is not None:
        pending.due_at = min(pending.due_at, ctx.now)
        ctx.session.add(pending)
        return
    done = ctx.session.exec(select(CaseStep.id).where(
        CaseStep.case_id == ctx.case.id, CaseStep.kind == StepKind.escalate, CaseStep.level == level)).first()
    if done is None:
        _add_step(ctx.session, ctx.case.id, StepKind.escalate, level, ctx.now, ctx.now)


def _record_vacancy(ctx: StepContext, level: int) -> None:
    grid_id = ctx.policy.chain[level] if level < len(ctx.policy.chain) else None
    grid = ctx.batch.get(Grid, grid_id) if grid_id else None
    _event(ctx.session, ctx.case.id, "vacant", ctx.now, public=False,
           detail={"level": level, "grid": grid.code if grid else None,
                   "reason": "grid without a worker" if level == 0 else "post vacant"})


def _page(ctx: StepContext, person: Person, *, kind: str, level: int) -> None:
    """Page a person (ack link, notification) and schedule their first re-page."""
    key = (ctx.case.id, person.id)
    recipient = ctx.batch.recipients.get(key)
    if recipient is None:
        values = {"case_id": ctx.case.id, "person_id": person.id, "level": level,
                  "ack_token": secrets.token_urlsafe(24), "created_at": ctx.now}
        row = _insert(ctx.session, CaseRecipient, values)
        recipient = ctx.batch.recipients[key] = SimpleNamespace(**row) if isinstance(row, dict) else row
    _notify(ctx, person, kind=kind, level=level, recipient=recipient)
    if recipient.acked_at is None and ctx.policy.max_repages > 0:
        seq_key = (ctx.case.id, person.id, level)
        seq = ctx.batch.repage_seq[seq_key] = ctx.batch.repage_seq.get(seq_key, 0) + 1
        _add_step(ctx.session, ctx.case.id, StepKind.repage, level,
                  ctx.now + timedelta(seconds=ctx.policy.repage_seconds), ctx.now, person.id, seq)


def _notify(ctx: StepContext, person: Person, *, kind: str, level: int,
            recipient: CaseRecipient | None = None) -> None:
    recipient = recipient or ctx.batch.recipients.get((ctx.case.id, person.id))
    ack_url = f"{ctx.settings.public_url}/a/{recipient.ack_token}" if recipient else None
    notification_id = payloads.new_id()
    body = payloads.build(notification_id=notification_id, kind=kind, level=level,
                          recipient=payloads.staff_recipient(person), case=ctx.case, category=ctx.category,
                          grid=ctx.grid, ack_url=ack_url)
    _insert(ctx.session, Notification, dict(
        id=notification_id, case_id=ctx.case.id, step_id=ctx.step.id, recipient_key=f"person:{person.id}:{kind}",
        person_id=person.id, phone=person.phone, kind=kind, level=level, channel=channel_name(ctx.settings),
        payload=body, next_attempt_at=ctx.now, created_at=ctx.now))
    if ctx.settings.web_push_enabled:
        # The same page to each of the person's browsers too; the gateway (SMS, voice) stays the one of record.
        for subscription in ctx.batch.subscriptions.get(person.id, []):
            push_id = payloads.new_id()
            push_body = payloads.build(notification_id=push_id, kind=kind, level=level,
                                       recipient=payloads.staff_recipient(person), case=ctx.case,
                                       category=ctx.category, grid=ctx.grid, ack_url=ack_url)
            _insert(ctx.session, Notification, dict(
                id=push_id, case_id=ctx.case.id, step_id=ctx.step.id,
                recipient_key=f"push:{subscription.id}:{kind}", person_id=person.id, phone=person.phone, kind=kind,
                level=level, channel="webpush", endpoint=subscription.endpoint, payload=push_body,
                next_attempt_at=ctx.now, created_at=ctx.now))


def notify_resident(session: Session, *, case: Case, settings: Settings, now: datetime, step_id: int | None = None,
                    event: str) -> None:
    """A resident_update: no ack link; the gateway turns it into an SMS."""
    notification_id = payloads.new_id()
    body = payloads.build(notification_id=notification_id, kind="resident_update", level=0,
                          recipient=payloads.resident_recipient(case), case=case,
                          category=session.get(Category, case.category_code), grid=session.get(Grid, case.grid_id),
                          ack_url=None)
    session.add(Notification(
        id=notification_id, case_id=case.id, step_id=step_id, recipient_key=f"resident:{event}",
        person_id=None, phone=case.contact_phone, kind="resident_update", level=0,
        channel=channel_name(settings), payload=body, next_attempt_at=now, created_at=now))


def channel_name(settings: Settings) -> str:
    return "webhook" if settings.pager_webhook_url else "log"


def _add_step(session: Session, case_id: int, kind: StepKind, level: int, due_at: datetime, now: datetime,
              person_id: int = 0, seq: int = 0) -> None:
    if due_at <= now:  # due already (after downtime, or a vacant post skipped): the sweep goes on at once
        session.info[_DUE_NOW] = True
    _insert(session, CaseStep, dict(case_id=case_id, kind=kind.value, level=level, person_id=person_id, seq=seq,
                                    due_at=due_at, created_at=now))


# --- writes: at once (through the ORM for inserts), or held back in bulk for a sweep batch ---

_BULK = "mashang_bulk_writes"
# Parents first; none of these new rows refers to another new row except through these tables' order.
_BULK_ORDER = (CaseRecipient, CaseStep, Notification, CaseEvent)


@dataclass
class Held:
    """The writes begin_bulk held back: new rows by model, and updates (table, key columns, row) in order."""

    inserts: list[tuple[type, dict]] = field(default_factory=list)
    updates: list[tuple[Table, tuple[str, ...], dict]] = field(default_factory=list)


def begin_bulk(session: Session) -> None:
    """From now on the new recipients, steps, notifications and events of this session wait for write_bulk.

    A sweep batch adds about ten rows per step. Building a SQLModel object for each and flushing it through the
    ORM cost more than everything else the sweep does; a dict per row and one executemany per table cost little.
    Nothing in a batch reads these rows back, except the rare query that calls write_bulk first.
    """
    session.info[_BULK] = Held()


_DEFERRED = "mashang_writes_deferred"
_DUE_NOW = "mashang_due_now"


def took_due_now(session: Session) -> bool:
    """Whether a step of this session made or brought forward a step due now (the sweep goes on); resets it."""
    return session.info.pop(_DUE_NOW, False)


class WriteDeferred(Exception):
    """A step wanted to write in the middle of a batch whose writes are held back until it commits."""


def defer_writes(session: Session) -> None:
    """Hold back everything this session would write (see sweeper: a batch prepared outside the write lock).

    The bulk rows wait as they do after begin_bulk; a step that needs a write at once (a vacant post:
    write_bulk, flush) raises WriteDeferred instead.
    """
    begin_bulk(session)
    session.info[_DEFERRED] = True


def take_bulk(session: Session) -> Held:
    """The writes begin_bulk held back, taken out of the session."""
    held = session.info.get(_BULK) or Held()
    session.info[_BULK] = Held()
    return held


def write_bulk(session: Session) -> None:
    """Write what begin_bulk held back (a no-op for a session that did not ask for it)."""
    if session.info.get(_DEFERRED):
        raise WriteDeferred()
    conn = session.connection()
    for prepared in prepare_bulk(conn.dialect, take_bulk(session)):
        execute(conn, prepared)


def prepare_bulk(dialect: Dialect, held: Held) -> list[Prepared]:
    """The inserts of held-back rows, parents first (one per table and set of columns given), then the updates."""
    by_model: dict[type, dict[tuple[str, ...], list[dict]]] = {}
    for model, row in held.inserts:
        by_model.setdefault(model, {}).setdefault(tuple(row), []).append(row)
    prepared = [prepare_insert(dialect, model.__table__, rows)
                for model in _BULK_ORDER for rows in by_model.pop(model, {}).values()]
    if by_model:
        raise TypeError(f"no bulk insert for {sorted(m.__name__ for m in by_model)}")
    # Updates keep their order within a table and column set (a later one of the same row wins).
    groups: dict[tuple, tuple[Table, tuple[str, ...], list[dict]]] = {}
    for table, key, row in held.updates:
        groups.setdefault((table.name, key, tuple(row)), (table, key, []))[2].append(row)
    prepared += [prepare_update(dialect, table, rows, key=key) for table, key, rows in groups.values()]
    return prepared


def _update(session: Session, table: Table, row: dict, *, key: tuple[str, ...]) -> None:
    """UPDATE table SET row's other columns WHERE its key columns match: at once, or held for write_bulk."""
    held = session.info.get(_BULK)
    if held is not None:
        held.updates.append((table, key, row))
        return
    values = {name: value for name, value in row.items() if name not in key}
    session.execute(update(table).where(*(table.c[name] == row[name] for name in key)).values(values))


@lru_cache
def _column_defaults(model: type) -> tuple[dict, dict]:
    """(plain defaults, default factories) of a table model's columns, the autoincrement id left out."""
    columns = set(model.__table__.columns.keys())
    plain, factories = {}, {}
    for name, info in model.model_fields.items():
        if name not in columns or info.is_required() or name == "id":
            continue
        if info.default_factory is not None:
            factories[name] = info.default_factory
        else:
            plain[name] = info.default
    return plain, tuple(factories.items())


def _insert(session: Session, model: type, values: dict):
    """Add a row: an ORM object at once, or a plain row held for write_bulk. Returns what can be read back."""
    held = session.info.get(_BULK)
    if held is None:
        row = model(**values)
        session.add(row)
        return row
    plain, factories = _column_defaults(model)
    row = {**plain, **values}
    for name, make in factories:
        if name not in values:
            row[name] = make()
    held.inserts.append((model, row))
    return row


def _recipient(session: Session, case_id: int, person_id: int) -> CaseRecipient | None:
    return session.exec(select(CaseRecipient).where(CaseRecipient.case_id == case_id,
                                                    CaseRecipient.person_id == person_id)).first()


def _event(session: Session, case_id: int, kind: str, at: datetime, *, public: bool, actor_id: int | None = None,
           detail: dict | None = None) -> None:
    _insert(session, CaseEvent, dict(case_id=case_id, kind=kind, at=at, public=public, actor_id=actor_id,
                                     detail=detail))


def _cancel_steps(session: Session, *, case_id: int, person_id: int | None = None,
                  kind: StepKind | None = None) -> None:
    stmt = update(steps_table).where(steps_table.c.case_id == case_id, steps_table.c.state == StepState.pending.value)
    if person_id is not None:
        stmt = stmt.where(steps_table.c.person_id == person_id)
    if kind is not None:
        stmt = stmt.where(steps_table.c.kind == kind.value)
    session.exec(stmt.values(state=StepState.cancelled.value))


# --- what people do ---

def people_to_call(case: Case) -> list[dict]:
    """Whom the worker should call: the reporter, the relative they reported for, or both."""
    reporter = {"who": "reporter", "name": case.contact_name, "phone": case.contact_phone}
    if case.proxy_call in ("relative", "both") and case.proxy_phone:
        relative = {"who": "relative", "name": case.proxy_name, "phone": case.proxy_phone,
                    "relation": case.proxy_relation}
        return [relative] if case.proxy_call == "relative" else [relative, reporter]
    return [reporter]


def log_contact_view(session: Session, *, case: Case, person_id: int | None, via: str) -> None:
    """Every showing of a resident's phone number is recorded."""
    session.add(ContactView(case_id=case.id, person_id=person_id, via=via, at=clock.now()))


def recipient_by_token(session: Session, *, token: str) -> tuple[CaseRecipient, Case]:
    """The ack link's recipient and case; 404 unknown, 410 once the case is closed."""
    recipient = session.exec(select(CaseRecipient).where(CaseRecipient.ack_token == token)).first() \
        if token and len(token) <= 64 else None
    if recipient is None:
        raise NotFound("ack_not_found", field="token")
    case = session.get(Case, recipient.case_id)
    if case.status == CaseStatus.closed:
        raise Gone("case_closed", field="token")
    return recipient, case


def acknowledge(session: Session, *, token: str, now: datetime) -> tuple[CaseRecipient, Case]:
    """"I've got it": re-paging of this recipient stops; the deadline does not move."""
    recipient, case = recipient_by_token(session, token=token)
    if recipient.acked_at is None:
        recipient.acked_at = now
        session.add(recipient)
        _cancel_steps(session, case_id=case.id, person_id=recipient.person_id, kind=StepKind.repage)
        _event(session, case.id, "acknowledged", now, public=True, actor_id=recipient.person_id)
        session.flush()
    return recipient, case


def record_contact(session: Session, *, case: Case, person_id: int | None, now: datetime, settings: Settings,
                   via: str, note: str | None = None) -> Case:
    """The resident was contacted: the 30-minute rule is met (or late), escalation stops."""
    if case.status == CaseStatus.closed:
        raise Gone("case_closed")
    if case.status != CaseStatus.open:
        return case  # contacted already: saying it twice changes nothing
    case.status = CaseStatus.contacted.value
    case.contacted_at = now
    case.contacted_on_time = now <= case.contact_due_at
    session.add(case)
    _cancel_steps(session, case_id=case.id)
    if person_id is not None:
        recipient = _recipient(session, case.id, person_id)
        if recipient is not None and recipient.acked_at is None:
            recipient.acked_at = now
            session.add(recipient)
    _event(session, case.id, "contacted", now, public=True, actor_id=person_id,
           detail={"on_time": case.contacted_on_time, "via": via, "note": (note or "")[:500] or None})
    notify_resident(session, case=case, settings=settings, now=now, event="contacted")
    session.flush()
    return case


def contact_by_token(session: Session, *, token: str, now: datetime, settings: Settings) -> Case:
    recipient, case = recipient_by_token(session, token=token)
    return record_contact(session, case=case, person_id=recipient.person_id, now=now, settings=settings,
                          via="ack_link")


def reassign(session: Session, *, case: Case, worker_phone: str, actor_id: int, now: datetime) -> Person:
    """Give the case to another worker, who is paged at once; the deadline does not move."""
    from app.people import service as people_service
    from app.phones import normalize_phone

    if case.status == CaseStatus.closed:
        raise Gone("case_closed")
    worker = people_service.get_by_phone(session, phone=normalize_phone(worker_phone, field="worker_phone"))
    if worker is None or worker.role != Role.worker:
        raise InvalidInput("validation_error", field="worker_phone", message="找不到这位网格员",
                           message_en="No grid worker with this phone")
    escalation = session.get(CaseEscalation, case.id)
    if escalation.assigned_person_id == worker.id:
        raise Conflict("validation_error", field="worker_phone", message="案件已分配给这位网格员",
                       message_en="The case is already assigned to this worker")
    escalation.assigned_person_id = worker.id
    session.add(escalation)
    _event(session, case.id, "reassigned", now, public=True, actor_id=actor_id, detail={"to": worker.id})
    if case.status == CaseStatus.open:
        seq = (session.exec(select(func.max(CaseStep.seq)).where(
            CaseStep.case_id == case.id, CaseStep.kind == StepKind.page, CaseStep.person_id == worker.id)).one()
            or 0) + 1
        _add_step(session, case.id, StepKind.page, 0, now, now, worker.id, seq)
    session.flush()
    return worker


def close(session: Session, *, case: Case, actor_id: int | None, now: datetime, settings: Settings,
          note: str | None = None) -> Case:
    """Close the case: everything pending stops and ack links die (410)."""
    if case.status == CaseStatus.closed:
        return case
    case.status = CaseStatus.closed.value
    case.closed_at = now
    session.add(case)
    _cancel_steps(session, case_id=case.id)
    _event(session, case.id, "closed", now, public=True, actor_id=actor_id, detail={"note": note} if note else None)
    notify_resident(session, case=case, settings=settings, now=now, event="closed")
    session.flush()
    return case

