"""The FastAPI application, assembled."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import errors_http, heap
from app.auth.router import router as auth_router
from app.config import get_settings
from app.console import pages as console_pages
from app.console import router as console
from app.escalation import router as escalation
from app.grids.pages import router as grid_pages
from app.health import router as health_router
from app.paging.router import router as push_router
from app.pwa.router import router as pwa_router
from app.reports import intake
from app.reports import router as reports
from app.reports.attachments_router import router as attachments_router
from app.reports.intake import IntakeWriter
from app.reports.ratelimit import AddressLimiter


def create_app() -> FastAPI:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ticker = waker = None
        if settings.ticker_socket:  # `mashang serve` runs the ticker in a process of its own: wake it
            from app.escalation.process import Waker

            waker = Waker(settings.ticker_socket)
            intake.after_commit_hooks.append(waker)
        elif settings.scheduler:
            from app.escalation.scheduler import Ticker

            ticker = Ticker(settings)
            ticker.start()
        app.state.ticker = ticker
        heap.freeze_startup_heap(settings)
        try:
            yield
        finally:
            if ticker is not None:
                ticker.shutdown()
            if waker is not None:
                intake.after_commit_hooks.remove(waker)
                waker.close()

    app = FastAPI(title="Mashang 码上办", version="0.1.0", lifespan=lifespan,
                  description="Scan-to-report for city grid governance, with a 30-minute contact rule.")
    app.state.settings = settings
    errors_http.install(app)
    app.state.intake_writer = IntakeWriter(settings)
    app.state.address_limiter = AddressLimiter()
    reports.add_intake_route(app)  # first: routes are matched in order, and report intake is the hot path
    app.include_router(reports.router)
    app.include_router(health_router)
    app.include_router(auth_router)
    app.include_router(grid_pages)
    app.include_router(reports.admin_router)
    app.include_router(reports.pages)
    app.include_router(attachments_router)
    app.include_router(escalation.router)
    app.include_router(escalation.ack_pages)
    app.include_router(push_router)
    app.include_router(pwa_router)
    app.include_router(console.router)
    app.include_router(console_pages.router)
    return app
