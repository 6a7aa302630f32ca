"""A controlled clock, a fake pager and a helper to make cases, for walking the timeline in milliseconds."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app import clock
from app.config import Settings, get_settings
from app.db import session_scope
from app.escalation import sweeper
from app.grids import service as grid_service
from app.grids.models import Grid
from app.paging.channels import FakeChannel
from app.paging.sender import Sender, default_channels
from app.reports import intake
from app.reports.models import Case, CaseEvent
from app.reports.schemas import ReportCreate

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def pending_report(grid_code: str = "BY-RML-GYL-01", *, settings: Settings, **overrides) -> intake.Pending:
    """A resident's report to the grid's current code, validated and ready for the intake writer."""
    with session_scope() as s:
        grid = s.exec(select(Grid).where(Grid.code == grid_code)).one()
        token = grid_service.current_token(s, grid_id=grid.id)
    body = {"grid_token": token, "category": "repairs", "description": "楼道灯坏了，老人晚上看不见",
            "contact_phone": "13912345678", **overrides}
    return intake.prepare(ReportCreate.model_validate(body), raw_body=body, idempotency_key=None, settings=settings)


@dataclass
class Timeline:
    """Moves the clock, sweeps and delivers; remembers every payload the fake pager received."""

    pager: FakeChannel = field(default_factory=FakeChannel)
    now: datetime = T0

    def __post_init__(self) -> None:
        clock.set_source(lambda: self.now)
        self.settings = get_settings()
        # Real channels where configured (Web Push to a fake push service), the fake pager for the gateway.
        self.sender = Sender(self.settings, channels={**default_channels(self.settings), "log": self.pager,
                                                      "webhook": self.pager})

    def at(self, minutes: float) -> list[dict]:
        """Go to T0 + minutes, run what is due, return the payloads delivered now."""
        self.now = T0 + timedelta(minutes=minutes)
        before = len(self.pager.sent)
        sweeper.sweep(settings=self.settings, now=self.now)
        while self.sender.deliver_due(now=self.now):
            pass
        return [json.loads(o.payload) for o in self.pager.sent[before:]]

    def report(self, grid_code: str = "BY-RML-GYL-01", **overrides) -> str:
        pending = pending_report(grid_code, settings=self.settings, **overrides)
        return intake.submit_sync(pending, settings=self.settings)["tracking_code"]

    def case(self, code: str) -> Case:
        with session_scope() as s:
            return s.exec(select(Case).where(Case.tracking_code == code)).one()

    def events(self, code: str) -> list[str]:
        with session_scope() as s:
            case = s.exec(select(Case).where(Case.tracking_code == code)).one()
            return [e.kind for e in s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                           .order_by(CaseEvent.at, CaseEvent.id))]


def summary(payloads: list[dict]) -> list[tuple[str, int, str]]:
    """(kind, level, recipient name), sorted, for compact assertions."""
    return sorted((p["kind"], p["level"], p["recipient"]["name"]) for p in payloads)
