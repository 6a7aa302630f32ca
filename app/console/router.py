"""The consoles' JSON API: the worker's inbox, the case (with the numbers to call), notes, the dispatcher's board."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app import clock
from app.console import board as board_service
from app.console import service
from app.console.schemas import Board, CaseDetail, CaseEventView, Inbox, NoteCreate
from app.deps import CurrentPerson, SessionDep, writes

router = APIRouter(tags=["worker"])
PRIVATE = {"Cache-Control": "private, no-store"}
ERRORS = {401: {}, 403: {}, 404: {}}


@router.get("/api/v1/inbox", response_model=Inbox, responses={401: {}})
def inbox(session: SessionDep, person: CurrentPerson, response: Response) -> Inbox:
    """The signed-in person's open cases, most urgent first; no phone numbers."""
    response.headers.update(PRIVATE)
    return service.inbox(session, person=person, now=clock.now())


@router.get("/api/v1/cases/{tracking_code}", response_model=CaseDetail, responses=ERRORS)
@writes
def case_detail(tracking_code: str, session: SessionDep, person: CurrentPerson, response: Response) -> CaseDetail:
    """One case for staff who may see it, with whom to call; every answer with a number is logged."""
    response.headers.update({**PRIVATE, "Referrer-Policy": "no-referrer"})
    return service.case_detail(session, person=person, tracking_code=tracking_code, now=clock.now())


@router.post("/api/v1/cases/{tracking_code}/notes", status_code=201, response_model=CaseEventView,
             responses={**ERRORS, 422: {}})
def add_note(tracking_code: str, body: NoteCreate, session: SessionDep, person: CurrentPerson) -> CaseEventView:
    """A staff-only note on the case's history."""
    return service.add_note(session, person=person, tracking_code=tracking_code, text=body.text, now=clock.now())


@router.get("/api/v1/board", response_model=Board, responses=ERRORS)
def board(session: SessionDep, person: CurrentPerson, response: Response,
          community: Annotated[str | None, Query(max_length=64)] = None) -> Board:
    """A community's board (the first the person holds unless ?community=CODE): grids, open cases, figures."""
    response.headers.update(PRIVATE)
    return board_service.board(session, person=person, community_code=community, now=clock.now())
