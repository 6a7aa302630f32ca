"""The ack link (/a/{token}, no login: the link is the key) and the worker API for contact, reassign, close."""

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from app import clock
from app.deps import CurrentPerson, SessionDep, SettingsDep, writes
from app.errors import DomainError, Forbidden
from app.escalation import service
from app.escalation.service import log_contact_view, people_to_call
from app.grids.models import Grid
from app.people.models import Person, Role
from app.reports import service as report_service
from app.reports.access import can_see_case
from app.reports.models import Case, Category
from app.web import error_page, render

router = APIRouter(tags=["worker"])
ack_pages = APIRouter(include_in_schema=False)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _ack_error(request: Request, exc: DomainError) -> Response:
    if _wants_json(request):
        return JSONResponse(exc.body(), status_code=exc.status_code)
    if exc.status_code == 410:
        return error_page(request, status_code=410, title_key="case_closed_title", message_key="case_closed")
    return error_page(request, status_code=404, title_key="not_found_title", message_key="ack_not_found")


@ack_pages.get("/a/{token}", response_class=HTMLResponse)
@writes
def ack_page(token: str, request: Request, session: SessionDep) -> Response:
    try:
        recipient, case = service.recipient_by_token(session, token=token)
    except DomainError as exc:
        return _ack_error(request, exc)
    log_contact_view(session, case=case, person_id=recipient.person_id, via="ack_link")
    response = render(request, "ack.html", case=case, recipient=recipient, token=token,
                      category=session.get(Category, case.category_code), grid=session.get(Grid, case.grid_id),
                      calls=people_to_call(case), person=session.get(Person, recipient.person_id))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@ack_pages.post("/a/{token}")
def ack(token: str, request: Request, session: SessionDep) -> Response:
    try:
        recipient, case = service.acknowledge(session, token=token, now=clock.now())
    except DomainError as exc:
        return _ack_error(request, exc)
    if _wants_json(request):
        return JSONResponse({"acknowledged_at": recipient.acked_at.isoformat(), "status": case.status})
    return RedirectResponse(f"/a/{token}", status_code=303)


@ack_pages.post("/a/{token}/contact")
def ack_contact(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    try:
        case = service.contact_by_token(session, token=token, now=clock.now(), settings=settings)
    except DomainError as exc:
        return _ack_error(request, exc)
    if _wants_json(request):
        return JSONResponse(_contact_answer(case))
    return RedirectResponse(f"/a/{token}", status_code=303)


class ContactRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class ReassignRequest(BaseModel):
    worker_phone: str = Field(min_length=1, max_length=40)


class CloseRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


def _contact_answer(case: Case) -> dict:
    return {"tracking_code": case.tracking_code, "status": case.status,
            "contacted_at": case.contacted_at.isoformat() if case.contacted_at else None,
            "contacted_on_time": case.contacted_on_time}


def _case_for(session: Session, person: Person, tracking_code: str, roles: set[str]) -> Case:
    case = report_service.get_case(session, tracking_code=tracking_code)
    if person.role not in roles or not can_see_case(session, person=person, case=case):
        raise Forbidden("forbidden")
    return case


@router.post("/api/v1/cases/{tracking_code}/contact")
def contact(tracking_code: str, session: SessionDep, person: CurrentPerson, settings: SettingsDep,
            body: ContactRequest | None = None) -> dict:
    case = _case_for(session, person, tracking_code, {Role.worker, Role.dispatcher, Role.supervisor, Role.admin})
    case = service.record_contact(session, case=case, person_id=person.id, now=clock.now(), settings=settings,
                                  via="api", note=body.note if body else None)
    return _contact_answer(case)


@router.post("/api/v1/cases/{tracking_code}/reassign")
def reassign(tracking_code: str, body: ReassignRequest, request: Request, session: SessionDep,
             person: CurrentPerson, background: BackgroundTasks) -> dict:
    case = _case_for(session, person, tracking_code, {Role.dispatcher, Role.supervisor, Role.admin})
    worker = service.reassign(session, case=case, worker_phone=body.worker_phone, actor_id=person.id,
                              now=clock.now())
    ticker = getattr(request.app.state, "ticker", None)
    if ticker is not None:
        background.add_task(ticker.wake)  # after the commit: the new worker is paged at once
    return {"tracking_code": case.tracking_code, "assigned_to": {"id": worker.id, "name": worker.name}}


@router.post("/api/v1/cases/{tracking_code}/close")
def close(tracking_code: str, session: SessionDep, person: CurrentPerson, settings: SettingsDep,
          body: CloseRequest | None = None) -> dict:
    case = _case_for(session, person, tracking_code, {Role.dispatcher, Role.supervisor, Role.admin})
    case = service.close(session, case=case, actor_id=person.id, now=clock.now(), settings=settings,
                         note=body.note if body else None)
    return {"tracking_code": case.tracking_code, "status": case.status,
            "closed_at": case.closed_at.isoformat() if case.closed_at else None}
