"""Shared helpers for report tests."""

from sqlmodel import select

from app.db import session_scope
from app.grids import service as grid_service
from app.grids.models import Grid
from app.reports.models import Case


def token_of(code: str = "BY-RML-GYL-01") -> str:
    with session_scope() as s:
        grid = s.exec(select(Grid).where(Grid.code == code)).one()
        return grid_service.current_token(s, grid_id=grid.id)


def report_body(token: str, **overrides) -> dict:
    body = {"grid_token": token, "category": "repairs", "description": "小区门口的路沿太高，轮椅过不去",
            "contact_phone": "139 1234 5678"}
    body.update(overrides)
    return body


def case_count() -> int:
    with session_scope() as s:
        return len(s.exec(select(Case.id)).all())
