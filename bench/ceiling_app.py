"""The validate-only ceiling: the report route's own parsing and validation, answering 201 without writing."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app import errors_http, heap
from app.config import get_settings
from app.errors import InvalidInput, invalid_from_errors
from app.phones import normalize_phone
from app.reports.router import MAX_REPORT_BODY, read_json_body
from app.reports.schemas import ReportCreate


def create_app() -> FastAPI:
    """A FastAPI app with the real error handlers and a POST /api/v1/reports that validates only."""
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        heap.freeze_startup_heap(settings)  # as the real app does once started: the same server, minus the write
        yield

    app = FastAPI(title="Mashang validate-only ceiling", lifespan=lifespan)
    app.state.settings = settings
    errors_http.install(app)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/api/v1/reports", status_code=201)
    async def create_report(
        request: Request, idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        settings = request.app.state.settings  # as the real route reads it
        raw = await read_json_body(request, limit=MAX_REPORT_BODY)
        if not isinstance(raw, dict):
            raise InvalidInput("validation_error", message="请求内容须为 JSON 对象",
                               message_en="The body must be a JSON object")
        try:
            report = ReportCreate.model_validate(raw)
        except ValidationError as exc:
            raise invalid_from_errors(exc.errors()) from None
        normalize_phone(report.contact_phone, field="contact_phone")
        return JSONResponse({"tracking_code": "CEILING000", "status": "open",
                             "created_at": "2024-01-01T00:00:00Z", "contact_due_at": "2024-01-01T00:30:00Z",
                             "track_url": f"{settings.public_url}/t/CEILING000",
                             "upload_token": "validate-only-no-upload-token-000"}, status_code=201)

    return app
