"""Reads of the resident API: a grid for its form, categories, and the public tracking view."""

from sqlmodel import Session, select

from app.errors import InvalidInput, NotFound
from app.grids import service as grid_service
from app.grids.models import Grid
from app.i18n import t
from app.reports import codes
from app.reports.models import Case, CaseEvent, Category
from app.reports.schemas import (
    CategoryPublic,
    CommunityPublic,
    GridPublic,
    TimelineEntry,
    TrackPublic,
)


def active_categories(session: Session) -> list[Category]:
    return list(session.exec(select(Category).where(Category.active.is_(True)).order_by(Category.position,
                                                                                          Category.code)))


def grid_for_token(session: Session, *, token: str) -> GridPublic:
    """What the report form needs; 404 unknown token, 410 replaced."""
    grid = grid_service.resolve_token(session, token=token)
    view = grid_service.describe(session, grid=grid)
    community = view.community
    return GridPublic(
        code=grid.code, name=grid.name,
        community=CommunityPublic(code=community.code if community else None,
                                  name=community.name if community else None, phone=view.office_phone),
        categories=[CategoryPublic.model_validate(c, from_attributes=True) for c in active_categories(session)],
    )


def office_phone_for(session: Session, *, tracking_code: str) -> str | None:
    """The community office's number (the one on the grid's poster): whom a resident can call while waiting."""
    case = get_case(session, tracking_code=tracking_code)
    return grid_service.describe(session, grid=session.get(Grid, case.grid_id)).office_phone


def get_case(session: Session, *, tracking_code: str) -> Case:
    code = codes.parse_tracking_code(tracking_code)
    case = session.exec(select(Case).where(Case.tracking_code == code)).first() if code else None
    if case is None:
        raise NotFound("case_not_found", field="tracking_code")
    return case


def track(session: Session, *, tracking_code: str) -> TrackPublic:
    """Status and public timeline; no phone number or personal name of anyone."""
    case = get_case(session, tracking_code=tracking_code)
    category = session.get(Category, case.category_code)
    grid = session.get(Grid, case.grid_id)
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
                          .order_by(CaseEvent.at, CaseEvent.id)).all()
    return TrackPublic(
        tracking_code=case.tracking_code, status=case.status,
        status_label=t(f"status_{case.status}", "zh"), status_label_en=t(f"status_{case.status}", "en"),
        category=CategoryPublic.model_validate(category, from_attributes=True),
        grid={"code": grid.code, "name": grid.name},
        created_at=case.created_at, contact_due_at=case.contact_due_at, contacted_at=case.contacted_at,
        contacted_on_time=case.contacted_on_time, closed_at=case.closed_at,
        timeline=[TimelineEntry(at=e.at, kind=e.kind, label=t(f"event_{e.kind}", "zh"),
                                label_en=t(f"event_{e.kind}", "en")) for e in events],
    )


def upsert_category(session: Session, *, code: str, name: str, name_en: str, icon: str = "",
                    position: int | None = None, active: bool = True) -> Category:
    """Create or edit a category (admin)."""
    if not codes_ok(code):
        raise InvalidInput("validation_error", field="code", message="类别编码只能包含小写字母、数字和 -",
                           message_en="A category code is 1-40 of a-z 0-9 -")
    category = session.get(Category, code) or Category(code=code, name=name, name_en=name_en)
    category.name, category.name_en, category.icon, category.active = name, name_en, icon, active
    if position is not None:
        category.position = position
    session.add(category)
    session.flush()
    return category


def codes_ok(code: str) -> bool:
    return 1 <= len(code) <= 40 and all(c.islower() or c.isdigit() or c == "-" for c in code)
