"""The resident API: grid lookup, report intake, tracking; and categories for admins."""

import json
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from app.bodies import read_limited
from app.config import Settings
from app.deps import CurrentPerson, SessionDep
from app.errors import DomainError, Forbidden, InvalidInput, TooManyRequests, invalid_from_errors
from app.phones import display_phone
from app.reports import intake
from app.reports import service as report_service
from app.reports.schemas import CategoryPublic, GridPublic, ReportCreate, ReportCreated, TrackPublic
from app.web import error_page, render

router = APIRouter(tags=["resident"])
admin_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
pages = APIRouter(include_in_schema=False)

MAX_REPORT_BODY = 64 * 1024


def _error(code: str, status: int, field: str | None = None) -> DomainError:
    return DomainError(code, field=field, status_code=status)


async def read_json_body(request: Request, *, limit: int) -> object:
    """The JSON body, refusing wrong types (415), oversized bodies before reading them whole (413), bad JSON (400)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise _error("unsupported_media_type", 415, "Content-Type")
    body = await read_limited(request, limit=limit)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _error("malformed_json", 400) from None


@router.get("/api/v1/grids/{token}", response_model=GridPublic)
def get_grid(token: str, session: SessionDep) -> GridPublic:
    return report_service.grid_for_token(session, token=token)


async def create_report(
    request: Request, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    raw = await read_json_body(request, limit=MAX_REPORT_BODY)
    if not isinstance(raw, dict):
        raise InvalidInput("validation_error", message="请求内容须为 JSON 对象",
                           message_en="The body must be a JSON object")
    return JSONResponse(await submit_report(request, raw, idempotency_key=idempotency_key), status_code=201)


def add_intake_route(app: FastAPI) -> None:
    """POST /api/v1/reports on the app itself, not through an included router: the hot path.

    FastAPI keeps an included router as a nested branch that each request walks (matching, route context);
    on this route that cost about as much as writing the case.
    """
    app.add_api_route("/api/v1/reports", create_report, methods=["POST"], status_code=201, tags=["resident"],
                      response_model=ReportCreated,
                      responses={400: {}, 404: {}, 409: {}, 410: {}, 413: {}, 415: {}, 422: {}, 429: {}})


async def submit_report(request: Request, raw: dict, *, idempotency_key: str | None) -> dict:
    """Validate a report body, apply the per-address limit, and hand it to the group-commit writer; its answer.

    The API and the no-JavaScript form both come here. The hot path: no dependency that FastAPI would run
    in a worker thread (a sync one such as get_settings).
    """
    settings: Settings = request.app.state.settings
    try:
        report = ReportCreate.model_validate(raw)
    except ValidationError as exc:
        raise invalid_from_errors(exc.errors()) from None
    if settings.rate_limits and request.client is not None:
        wait = request.app.state.address_limiter.hit(request.client.host)
        if wait is not None:
            raise TooManyRequests("rate_limited", retry_after_seconds=wait)
    pending = intake.prepare(report, raw_body=raw, idempotency_key=idempotency_key, settings=settings)
    return await request.app.state.intake_writer.submit(pending)


@router.get("/api/v1/track/{tracking_code}", response_model=TrackPublic)
def track(tracking_code: str, session: SessionDep) -> TrackPublic:
    return report_service.track(session, tracking_code=tracking_code)


@router.get("/api/v1/categories", response_model=list[CategoryPublic])
def categories(session: SessionDep) -> list[CategoryPublic]:
    return [CategoryPublic.model_validate(c, from_attributes=True)
            for c in report_service.active_categories(session)]


class CategoryEdit(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    name_en: str = Field(min_length=1, max_length=80)
    icon: str = Field(default="", max_length=16)
    position: int | None = None
    active: bool = True


@admin_router.put("/categories/{code}", response_model=CategoryPublic)
def put_category(code: str, body: CategoryEdit, session: SessionDep, person: CurrentPerson) -> CategoryPublic:
    if person.role != "admin":
        raise Forbidden("forbidden")
    category = report_service.upsert_category(session, code=code, **body.model_dump())
    return CategoryPublic.model_validate(category, from_attributes=True)


@pages.get("/t/{tracking_code}", response_class=HTMLResponse)
def track_page(tracking_code: str, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        view = report_service.track(session, tracking_code=tracking_code)
    except DomainError:
        return error_page(request, status_code=404, title_key="not_found_title", message_key="case_not_found")
    # While the case is open the page offers the community office's phone, as the poster does (never a person's).
    phone = report_service.office_phone_for(session, tracking_code=tracking_code) if view.status == "open" else None
    return render(request, "track.html", case=view, office_phone=display_phone(phone), office_phone_e164=phone)
