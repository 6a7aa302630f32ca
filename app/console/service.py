"""The worker's side: the inbox, the case page (which logs every showing of a phone number) and notes."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case as sql_case
from sqlalchemy import or_
from sqlmodel import Session, select

from app.console.schemas import (
    CallTarget,
    CaseDetail,
    CaseEventView,
    CaseLocation,
    CategoryRef,
    GridRef,
    Inbox,
    InboxCase,
    PagedPerson,
    StaffRef,
)
from app.errors import Forbidden, InvalidInput
from app.escalation import service as escalation_service
from app.escalation.models import CaseEscalation, CaseRecipient
from app.grids.models import Grid, Level
from app.paging.models import Notification
from app.people.models import Person
from app.phones import display_phone
from app.reports import service as report_service
from app.reports.access import can_see_case
from app.reports.models import Case, CaseEvent, CaseStatus, Category

INBOX_LIMIT = 200
SUMMARY_LENGTH = 60
# Delivery bookkeeping is shown as "who was paged", not as history lines.
QUIET_EVENTS = ("delivered", "delivery_failed", "repaged")


@dataclass
class Related:
    """Rows a list of cases refers to, loaded in a few queries instead of one per case."""

    categories: dict[str, Category]
    grids: dict[int, Grid]
    escalations: dict[int, CaseEscalation]
    people: dict[int, Person]


def people_by_id(session: Session, ids: set[int]) -> dict[int, Person]:
    ids = {i for i in ids if i}
    return {p.id: p for p in session.exec(select(Person).where(Person.id.in_(ids)))} if ids else {}


def load_related(session: Session, cases: list[Case]) -> Related:
    """Categories, grids, escalations and assigned workers of these cases."""
    categories = {c.code: c for c in session.exec(select(Category))}
    grid_ids = {c.grid_id for c in cases}
    grids = {g.id: g for g in session.exec(select(Grid).where(Grid.id.in_(grid_ids)))} if grid_ids else {}
    case_ids = [c.id for c in cases]
    escalations = {e.case_id: e for e in session.exec(
        select(CaseEscalation).where(CaseEscalation.case_id.in_(case_ids)))} if case_ids else {}
    people = people_by_id(session, {e.assigned_person_id for e in escalations.values()})
    return Related(categories, grids, escalations, people)


def staff_ref(person: Person | None) -> StaffRef | None:
    return StaffRef(id=person.id, name=person.name, role=person.role) if person else None


def short_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LENGTH else text[:SUMMARY_LENGTH - 1] + "…"


def is_overdue(case: Case, now: datetime) -> bool:
    return case.status == CaseStatus.open and case.contact_due_at < now


def summary_fields(case: Case, related: Related, now: datetime) -> dict:
    """The list view of a case: what, where, when due; never a phone number or a resident's name."""
    category = related.categories.get(case.category_code)
    grid = related.grids[case.grid_id]
    escalation = related.escalations.get(case.id)
    assigned = related.people.get(escalation.assigned_person_id) if escalation else None
    return {
        "tracking_code": case.tracking_code, "status": case.status,
        "category": CategoryRef(code=case.category_code, name=category.name if category else case.category_code,
                                name_en=category.name_en if category else case.category_code),
        "grid": GridRef(code=grid.code, name=grid.name), "summary": short_text(case.description),
        "created_at": case.created_at, "contact_due_at": case.contact_due_at, "contacted_at": case.contacted_at,
        "overdue": is_overdue(case, now), "assigned_to": staff_ref(assigned),
    }


def urgency_order() -> tuple:
    """Waiting for contact first, soonest deadline (so the overdue) first."""
    return sql_case((Case.status == CaseStatus.open.value, 0), else_=1), Case.contact_due_at, Case.id


def inbox(session: Session, *, person: Person, now: datetime) -> Inbox:
    """Open cases of the person's grids, plus those reassigned to them or they were paged about, most urgent first."""
    my_grids = select(Grid.id).where(or_(Grid.contact_id == person.id, Grid.backup_id == person.id))
    assigned = select(CaseEscalation.case_id).where(CaseEscalation.assigned_person_id == person.id)
    paged = select(CaseRecipient.case_id).where(CaseRecipient.person_id == person.id)
    cases = list(session.exec(
        select(Case).where(Case.status != CaseStatus.closed.value,
                           or_(Case.grid_id.in_(my_grids), Case.id.in_(assigned), Case.id.in_(paged)))
        .order_by(*urgency_order()).limit(INBOX_LIMIT)))
    related = load_related(session, cases)
    acked = set(session.exec(select(CaseRecipient.case_id).where(
        CaseRecipient.person_id == person.id, CaseRecipient.acked_at.is_not(None),
        CaseRecipient.case_id.in_([c.id for c in cases])))) if cases else set()
    rows = []
    for case in cases:
        fields = summary_fields(case, related, now)
        mine = fields["assigned_to"] is not None and fields["assigned_to"].id == person.id
        rows.append(InboxCase(**fields, assigned_to_me=mine, acked=case.id in acked))
    return Inbox(now=now, person=staff_ref(person), cases=rows)


def paging_by_case(session: Session, case_ids: list[int]) -> dict[int, list[PagedPerson]]:
    """Per case, each staff member paged: pages sent, delivered or not, acknowledged or not."""
    if not case_ids:
        return {}
    notifications = list(session.exec(select(Notification).where(
        Notification.case_id.in_(case_ids), Notification.person_id.is_not(None))
        .order_by(Notification.created_at, Notification.id)))
    recipients = {(r.case_id, r.person_id): r for r in session.exec(
        select(CaseRecipient).where(CaseRecipient.case_id.in_(case_ids)))}
    people = people_by_id(session, {n.person_id for n in notifications} | {pid for _, pid in recipients})
    grouped: dict[tuple[int, int], list[Notification]] = {}
    for notification in notifications:
        grouped.setdefault((notification.case_id, notification.person_id), []).append(notification)
    for key in recipients:
        grouped.setdefault(key, [])
    answer: dict[int, list[PagedPerson]] = {}
    for (case_id, person_id), sent in grouped.items():
        person, recipient = people.get(person_id), recipients.get((case_id, person_id))
        if person is None:
            continue
        delivered = [n.delivered_at for n in sent if n.delivered_at is not None]
        # A page goes to the gateway and, if subscribed, to each browser: count the gateway's copies.
        pages = sum(1 for n in sent if n.channel != "webpush")
        first = sent[0].created_at if sent else recipient.created_at
        answer.setdefault(case_id, []).append(PagedPerson(
            name=person.name, role=person.role, level=recipient.level if recipient else sent[0].level,
            pages=pages, first_paged_at=first, delivered=bool(delivered),
            delivered_at=max(delivered) if delivered else None, attempts=sum(n.attempts for n in sent),
            acked_at=recipient.acked_at if recipient else None))
    for rows in answer.values():
        rows.sort(key=lambda p: (p.level, p.first_paged_at))
    return answer


def event_views(session: Session, case_ids: list[int], *, kinds: tuple[str, ...] | None = None
                ) -> dict[int, list[CaseEventView]]:
    """Each case's history for staff (notes included), oldest first."""
    if not case_ids:
        return {}
    query = select(CaseEvent).where(CaseEvent.case_id.in_(case_ids))
    query = query.where(CaseEvent.kind.in_(kinds)) if kinds else query.where(CaseEvent.kind.not_in(QUIET_EVENTS))
    events = list(session.exec(query.order_by(CaseEvent.at, CaseEvent.id)))
    detail_people = {e.detail.get("to") for e in events if e.kind == "reassigned" and e.detail}
    people = people_by_id(session, {e.actor_id for e in events} | detail_people)
    answer: dict[int, list[CaseEventView]] = {}
    for event in events:
        detail = event.detail or {}
        text = detail.get("text") or detail.get("note")
        if event.kind == "reassigned" and detail.get("to") in people:
            text = people[detail["to"]].name
        actor = people.get(event.actor_id)
        answer.setdefault(event.case_id, []).append(
            CaseEventView(kind=event.kind, at=event.at, actor=actor.name if actor else None, text=text))
    return answer


def case_detail(session: Session, *, person: Person, tracking_code: str, now: datetime) -> CaseDetail:
    """The case page; showing the resident's number to this person is logged (ContactView via case_page)."""
    case = report_service.get_case(session, tracking_code=tracking_code)
    if not can_see_case(session, person=person, case=case):
        raise Forbidden("forbidden")
    related = load_related(session, [case])
    grid = related.grids[case.grid_id]
    community = session.get(Grid, grid.parent_id) if grid.parent_id else None
    calls = [] if case.status == CaseStatus.closed else escalation_service.people_to_call(case)
    if calls:
        escalation_service.log_contact_view(session, case=case, person_id=person.id, via="case_page")
    mine = session.exec(select(CaseRecipient).where(CaseRecipient.case_id == case.id,
                                                    CaseRecipient.person_id == person.id)).first()
    location = None
    if case.lat is not None and case.lng is not None:
        location = CaseLocation(lat=case.lat, lng=case.lng, accuracy_m=case.accuracy_m,
                                geo_url=f"geo:{case.lat:.6f},{case.lng:.6f}?q={case.lat:.6f},{case.lng:.6f}")
    return CaseDetail(
        **summary_fields(case, related, now), now=now, description=case.description,
        community=GridRef(code=community.code, name=community.name)
        if community is not None and community.level == Level.community else None,
        contacted_on_time=case.contacted_on_time, closed_at=case.closed_at, location=location,
        calls=[CallTarget(**call, display=display_phone(call["phone"])) for call in calls],
        my_ack_path=f"/a/{mine.ack_token}" if mine and mine.acked_at is None and case.status == CaseStatus.open
        else None,
        events=event_views(session, [case.id]).get(case.id, []),
        paging=paging_by_case(session, [case.id]).get(case.id, []),
    )


def add_note(session: Session, *, person: Person, tracking_code: str, text: str, now: datetime) -> CaseEventView:
    """A staff-only note on the case's history (never shown to the resident)."""
    case = report_service.get_case(session, tracking_code=tracking_code)
    if not can_see_case(session, person=person, case=case):
        raise Forbidden("forbidden")
    text = text.strip()
    if not text:
        raise InvalidInput("note_empty", field="text")
    session.add(CaseEvent(case_id=case.id, kind="note", at=now, public=False, actor_id=person.id,
                          detail={"text": text}))
    session.flush()
    return CaseEventView(kind="note", at=now, actor=person.name, text=text)
