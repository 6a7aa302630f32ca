"""Every error answers with the contract's body: {"error": {code, field, message, message_en}}."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.errors import DomainError, invalid_from_errors
from app.i18n import CATALOG
from app.web import error_page, wants_html

log = logging.getLogger("mashang.errors")

STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 410: "gone", 413: "too_large",
                415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests"}


def error_body(code: str, field: str | None, message: str | None = None, message_en: str | None = None) -> dict:
    zh, en = CATALOG.get(code, CATALOG["validation_error"])
    return {"error": {"code": code, "field": field, "message": message or zh, "message_en": message_en or en}}


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        body = error_body("malformed_json", None, "请求内容不是有效的 JSON。", "The request body is not valid JSON.")
        return JSONResponse(body, status_code=400)
    error = invalid_from_errors(errors)
    return JSONResponse(error.body(), status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404 and wants_html(request):
        return error_page(request, status_code=404, title_key="not_found_title", message_key="not_found")
    code = STATUS_CODES.get(exc.status_code, "error")
    message_en = exc.detail if isinstance(exc.detail, str) else None
    body = error_body(code, None, None, message_en)
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client hung up while sending its body: nothing was written, and nobody is left to answer."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", None), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
