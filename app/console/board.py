"""The dispatcher's board: a community's grids, its open cases with who was paged, and the three figures."""

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_
from sqlalchemy import case as sql_case
from sqlmodel import Session, select

from app.console.schemas import Board, BoardCase, Figures, GridRef, GridRow, Rate, WorkerChoice
from app.console.service import event_views, load_related, paging_by_case, people_by_id, summary_fields, urgency_order
from app.errors import Forbidden, NotFound
from app.escalation.models import CaseEscalation
from app.grids.models import Grid, Level
from app.people.models import Person, Role
from app.reports.models import Case, CaseStatus

BOARD_ROLES = {Role.dispatcher, Role.supervisor, Role.admin}
BOARD_CASE_LIMIT = 300
PERIOD_DAYS = 30


def communities_for(session: Session, *, person: Person) -> list[Grid]:
    """Admin: every community; otherwise those the person holds, and those under the streets they hold."""
    query = select(Grid).where(Grid.level == Level.community.value)
    if person.role != Role.admin:
        held = or_(Grid.contact_id == person.id, Grid.backup_id == person.id)
        streets = select(Grid.id).where(Grid.level == Level.street.value,
                                        or_(Grid.contact_id == person.id, Grid.backup_id == person.id))
        query = query.where(or_(held, Grid.parent_id.in_(streets)))
    return list(session.exec(query.order_by(Grid.code)))


def _choose(session: Session, communities: list[Grid], code: str | None) -> Grid | None:
    if code is None:
        return communities[0] if communities else None
    chosen = next((c for c in communities if c.code == code), None)
    if chosen is None:
        exists = session.exec(select(Grid.id).where(Grid.code == code, Grid.level == Level.community.value)).first()
        if exists is None:
            raise NotFound("community_not_found", field="community")
        raise Forbidden("forbidden", field="community")
    return chosen


def rate(count: int, total: int) -> Rate:
    return Rate(rate=round(count / total, 4) if total else None, count=count, total=total)


def figures(session: Session, *, grid_ids: list[int], now: datetime, period_days: int = PERIOD_DAYS) -> Figures:
    """On-time contact (of cases whose deadline passed or that were contacted), completion, satisfaction (none)."""
    if not grid_ids:
        return Figures(period_days=period_days, on_time_contact=rate(0, 0), completion=rate(0, 0))
    decided = or_(Case.contacted_at.is_not(None), Case.contact_due_at <= now)
    row = session.exec(select(
        func.count(Case.id),
        func.coalesce(func.sum(sql_case((decided, 1), else_=0)), 0),
        func.coalesce(func.sum(sql_case((Case.contacted_on_time.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(sql_case((Case.status == CaseStatus.closed.value, 1), else_=0)), 0),
    ).where(Case.grid_id.in_(grid_ids), Case.created_at >= now - timedelta(days=period_days))).one()
    total, due, on_time, closed = (int(v or 0) for v in row)
    return Figures(period_days=period_days, on_time_contact=rate(on_time, due), completion=rate(closed, total))


def _grid_rows(session: Session, grids: list[Grid], now: datetime) -> list[GridRow]:
    counts = {grid_id: (total, overdue, not_assigned) for grid_id, total, overdue, not_assigned in session.exec(
        select(Case.grid_id, func.count(Case.id),
               func.sum(sql_case((and_(Case.status == CaseStatus.open.value, Case.contact_due_at < now), 1),
                                 else_=0)),
               func.sum(sql_case((CaseEscalation.assigned_person_id.is_(None), 1), else_=0)))
        .join(CaseEscalation, CaseEscalation.case_id == Case.id, isouter=True)
        .where(Case.grid_id.in_([g.id for g in grids]), Case.status != CaseStatus.closed.value)
        .group_by(Case.grid_id))} if grids else {}
    people = people_by_id(session, {g.contact_id for g in grids} | {g.backup_id for g in grids})
    rows = []
    for grid in grids:
        total, overdue, not_assigned = counts.get(grid.id, (0, 0, 0))
        worker, backup = people.get(grid.contact_id), people.get(grid.backup_id)
        vacant = worker is None and backup is None
        rows.append(GridRow(code=grid.code, name=grid.name, worker=worker.name if worker else None,
                            backup=backup.name if backup else None, vacant=vacant, open=int(total or 0),
                            overdue=int(overdue or 0), unassigned=int(not_assigned or 0) if vacant else 0))
    return rows


def _workers(session: Session, grids: list[Grid]) -> list[WorkerChoice]:
    """Whom a case may be reassigned to: the workers and backups of the community's grids."""
    people = people_by_id(session, {g.contact_id for g in grids} | {g.backup_id for g in grids})
    choices: dict[int, WorkerChoice] = {}
    for grid in grids:
        for person_id in (grid.contact_id, grid.backup_id):
            person = people.get(person_id)
            if person is not None and person.role == Role.worker and person.id not in choices:
                choices[person.id] = WorkerChoice(id=person.id, name=person.name, phone=person.phone,
                                                  grid=GridRef(code=grid.code, name=grid.name))
    return list(choices.values())


def board(session: Session, *, person: Person, community_code: str | None, now: datetime) -> Board:
    """One community's board; 403 for a worker or someone else's community, 404 for an unknown one."""
    if person.role not in BOARD_ROLES:
        raise Forbidden("board_forbidden")
    communities = communities_for(session, person=person)
    community = _choose(session, communities, community_code)
    listed = [GridRef(code=c.code, name=c.name) for c in communities]
    if community is None:
        return Board(now=now, communities=listed, community=None, figures=None, grids=[], cases=[], workers=[])
    grids = list(session.exec(select(Grid).where(Grid.parent_id == community.id).order_by(Grid.code)))
    grid_ids = [g.id for g in grids]
    cases = list(session.exec(select(Case).where(Case.grid_id.in_(grid_ids), Case.status != CaseStatus.closed.value)
                              .order_by(*urgency_order()).limit(BOARD_CASE_LIMIT))) if grid_ids else []
    related = load_related(session, cases)
    paging = paging_by_case(session, [c.id for c in cases])
    notes = event_views(session, [c.id for c in cases], kinds=("note",))
    vacant = {g.id for g in grids if g.contact_id is None and g.backup_id is None}
    rows = []
    for case in cases:
        escalation = related.escalations.get(case.id)
        assigned = escalation.assigned_person_id if escalation else None
        rows.append(BoardCase(**summary_fields(case, related, now), unassigned=case.grid_id in vacant and not assigned,
                              escalation_level=escalation.level if escalation else 0,
                              paging=paging.get(case.id, []), notes=notes.get(case.id, [])))
    return Board(now=now, communities=listed, community=GridRef(code=community.code, name=community.name),
                 figures=figures(session, grid_ids=grid_ids, now=now), grids=_grid_rows(session, grids, now),
                 cases=rows, workers=_workers(session, grids))
