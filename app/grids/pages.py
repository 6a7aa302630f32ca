"""The grid's page, /g/{token}: what the QR code opens.

The report form posts back to the same address, so a phone whose browser cannot run the page's script
(an old in-app browser, a script that failed to load) can still report; the script, when it runs, sends
through the JSON API instead and adds photos, voice notes, location and offline drafts.
"""

import uuid
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app.bodies import read_limited
from app.db import session_scope
from app.deps import SessionDep
from app.errors import DomainError, Gone, NotFound
from app.grids import service as grid_service
from app.grids.models import GridToken
from app.i18n import t
from app.phones import display_phone
from app.pwa.pages import resident_page
from app.reports import intake
from app.reports import service as report_service
from app.reports.router import submit_report
from app.web import error_page, page_lang

router = APIRouter(include_in_schema=False)

MAX_FORM_BODY = 64 * 1024
FORM_FIELDS = ("category", "description", "contact_phone", "contact_name", "relative_name", "relative_relation",
               "relative_phone", "relative_call")
CALL_CHOICES = ("reporter", "relative", "both")
# Icons drawn for the built-in categories (app/templates/resident_icons.html); others get a speech bubble.
CATEGORY_ICONS = {"sanitation", "repairs", "roads", "safety", "neighbours", "policy", "help", "other"}
# Where an API error's field is shown on the form.
ERROR_PLACES = {"category": "category", "description": "description", "contact_phone": "contact_phone",
                "on_behalf_of.phone": "relative_phone", "on_behalf_of.name": "relative",
                "on_behalf_of.relation": "relative", "on_behalf_of": "relative"}


def _grid_or_error_page(session: Session, request: Request, token: str) -> grid_service.GridView | HTMLResponse:
    try:
        grid = grid_service.resolve_token(session, token=token)
    except Gone:
        # The old poster's grid is known; its community's number still helps the resident.
        row = session.get(GridToken, token)
        phone = None
        if row is not None:
            old = session.get(grid_service.Grid, row.grid_id)
            phone = grid_service.describe(session, grid=old).office_phone if old else None
        return error_page(request, status_code=410, title_key="replaced_title", message_key="token_replaced",
                          office_phone=phone)
    except NotFound:
        return error_page(request, status_code=404, title_key="not_found_title", message_key="grid_not_found")
    return grid_service.describe(session, grid=grid)


def _form_page(session: Session, request: Request, token: str, *, form: dict[str, str] | None = None,
               errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    found = _grid_or_error_page(session, request, token)
    if isinstance(found, HTMLResponse):
        return found
    lang = page_lang(request)
    form = form or {}
    categories = [{"code": c.code, "label": c.name_en if lang == "en" else c.name,
                   "icon": f"i-{c.code}" if c.code in CATEGORY_ICONS else "i-other"}
                  for c in report_service.active_categories(session)]
    helper_open = any(form.get(k) for k in ("relative_name", "relative_relation", "relative_phone"))
    return resident_page(
        request, "grid.html", status_code=status_code, view=found, token=token, categories=categories,
        office_phone=display_phone(found.office_phone), office_phone_e164=found.office_phone, form=form,
        errors=errors or {}, helper_open=helper_open, form_key=uuid.uuid4().hex,
        # What the grid worker reads on a voice-only report: always Chinese, whatever the page's language.
        voice_only_description=t("voice_only_description", "zh"))


@router.get("/g/{token}", response_class=HTMLResponse)
def grid_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    return _form_page(session, request, token)


def _render_in_thread(request: Request, token: str, **kwargs: object) -> HTMLResponse:
    with session_scope() as session:
        return _form_page(session, request, token, **kwargs)


def check_form(form: dict[str, str], lang: str) -> dict[str, str]:
    """What is missing, by the place on the form where it is said (the API checks the rest)."""
    errors: dict[str, str] = {}
    if not form["category"]:
        errors["category"] = t("need_category", lang)
    if not form["description"]:
        errors["description"] = t("need_description_text", lang)
    if not form["contact_phone"]:
        errors["contact_phone"] = t("need_phone", lang)
    if any(form[k] for k in ("relative_name", "relative_relation", "relative_phone")):
        if not (form["relative_name"] and form["relative_relation"]):
            errors["relative"] = t("need_relative", lang)
        if form["relative_call"] in ("relative", "both") and not form["relative_phone"]:
            errors["relative_phone"] = t("need_relative_phone", lang)
    return errors


def report_body(token: str, form: dict[str, str]) -> dict:
    """The API's JSON body for what the form holds."""
    body: dict = {"grid_token": token, "category": form["category"], "description": form["description"],
                  "contact_phone": form["contact_phone"]}
    if form["contact_name"]:
        body["contact_name"] = form["contact_name"]
    if form["relative_name"] or form["relative_relation"]:
        call = form["relative_call"] if form["relative_call"] in CALL_CHOICES else "reporter"
        body["on_behalf_of"] = {"name": form["relative_name"], "relation": form["relative_relation"], "call": call}
        if form["relative_phone"]:
            body["on_behalf_of"]["phone"] = form["relative_phone"]
    return body


def _form_key(raw: str, body: dict) -> str | None:
    """One key per rendered form and content: a double tap sends one report, a second report from a cached page
    (same form_key, other words) is a report of its own rather than a key conflict."""
    if not (len(raw) == 32 and all(c in "0123456789abcdef" for c in raw)):
        return None
    return f"form-{raw}-{intake.canonical_hash(body)[:16]}"


async def read_form_body(request: Request, *, limit: int) -> dict[str, list[str]]:
    """The urlencoded fields, refusing a body past limit as it streams in (413) and one that is not UTF-8 (400)."""
    body = await read_limited(request, limit=limit)
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        raise DomainError("validation_error", status_code=400) from None


@router.post("/g/{token}", response_class=HTMLResponse)
async def submit_form(token: str, request: Request) -> Response:
    lang = page_lang(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return error_page(request, status_code=415, title_key="app_name", message_key="unsupported_media_type")
    try:
        raw = await read_form_body(request, limit=MAX_FORM_BODY)
    except DomainError as exc:
        return error_page(request, status_code=exc.status_code, title_key="app_name", message_key=exc.code)
    submitted = {key: values[0] for key, values in raw.items()}
    form = {key: submitted.get(key, "").strip() for key in FORM_FIELDS}
    errors = check_form(form, lang)
    if not errors:
        body = report_body(token, form)
        try:
            key = _form_key(submitted.get("form_key", ""), body)
            answer = await submit_report(request, body, idempotency_key=key)
        except Gone:
            return await run_in_threadpool(_render_in_thread, request, token)
        except DomainError as exc:
            message = exc.message_en if lang == "en" else exc.message
            errors = {ERROR_PLACES.get(exc.field or "", "form"): message}
        else:
            return RedirectResponse(f"/t/{answer['tracking_code']}", status_code=303)
    return await run_in_threadpool(_render_in_thread, request, token, form=form, errors=errors, status_code=422)
