"""GET /healthz: 200 while the database answers, 503 when it does not."""

import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.config import get_settings
from app.db import get_engine

router = APIRouter(tags=["health"])

# Filled by the ticker so a stalled sweep shows here; a ticker in its own process writes it to a file instead.
scheduler_status: dict[str, object] = {"running": False, "lag_seconds": None, "stalled_steps": []}


def _scheduler() -> dict[str, object]:
    wake_socket = get_settings().ticker_socket
    if wake_socket:
        from app.escalation.process import read_status

        return read_status(wake_socket)
    return scheduler_status


@router.get("/healthz")
def healthz() -> JSONResponse:
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the database does not answer
        return JSONResponse({"status": "unavailable", "database": {"ok": False, "error": type(exc).__name__},
                             "scheduler": _scheduler()}, status_code=503)
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    return JSONResponse({"status": "ok", "database": {"ok": True, "latency_ms": latency_ms},
                         "scheduler": _scheduler()})
