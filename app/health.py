"""GET /healthz: 200 while the database answers, 503 when it does not."""

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import get_engine

router = APIRouter(tags=["health"])

# Filled by the scheduler (a later issue) so a stalled sweep shows here.
scheduler_status: dict[str, object] = {"running": False, "lag_seconds": None, "stalled_steps": []}


@router.get("/healthz")
def healthz() -> JSONResponse:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the database does not answer
        return JSONResponse({"status": "unavailable", "database": {"ok": False, "error": type(exc).__name__},
                             "scheduler": scheduler_status}, status_code=503)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return JSONResponse({"status": "ok", "database": {"ok": True, "latency_ms": latency_ms},
                         "scheduler": scheduler_status})
