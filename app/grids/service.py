"""Grid tree queries and QR tokens; no FastAPI here."""

import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from app import clock
from app.config import Settings
from app.errors import Gone, InvalidInput, NotFound
from app.grids.models import Grid, GridToken, Level
from app.people.models import Person


def new_token() -> str:
    """An unguessable grid token: 128 bits of randomness, URL-safe (22 characters)."""
    return secrets.token_urlsafe(16)


def grid_url(settings: Settings, token: str) -> str:
    """What a grid's QR code encodes."""
    return f"{settings.public_url}/g/{token}"


def get_by_code(session: Session, *, code: str) -> Grid:
    grid = session.exec(select(Grid).where(Grid.code == code)).first()
    if grid is None:
        raise NotFound("grid_not_found", field="code",
                       message=f"找不到网格编码 {code}", message_en=f"No grid with code {code}")
    return grid


def current_token(session: Session, *, grid_id: int) -> str | None:
    return session.exec(
        select(GridToken.token).where(GridToken.grid_id == grid_id, GridToken.replaced_at.is_(None))
    ).first()


def resolve_token(session: Session, *, token: str) -> Grid:
    """The basic grid a QR token names; 404 if unknown, 410 if it was replaced."""
    if not token or len(token) > 64:
        raise NotFound("grid_not_found", field="token")
    row = session.get(GridToken, token)
    if row is None:
        raise NotFound("grid_not_found", field="token")
    if row.replaced_at is not None:
        raise Gone("token_replaced", field="token")
    grid = session.get(Grid, row.grid_id)
    assert grid is not None
    return grid


def issue_token(session: Session, *, grid: Grid) -> str:
    """Give a basic grid a token if it has none (import and demo call this)."""
    existing = current_token(session, grid_id=grid.id)
    if existing:
        return existing
    token = new_token()
    session.add(GridToken(token=token, grid_id=grid.id))
    session.flush()
    return token


def rotate_token(session: Session, *, code: str) -> str:
    """Replace a grid's token; the old link then answers 410."""
    grid = get_by_code(session, code=code)
    if grid.level != Level.grid:
        raise InvalidInput("validation_error", field="code",
                           message=f"{code} 不是基础网格，没有二维码",
                           message_en=f"{code} is a {grid.level}, not a basic grid; only grids have codes")
    now = clock.now()
    for row in session.exec(
        select(GridToken).where(GridToken.grid_id == grid.id, GridToken.replaced_at.is_(None))
    ):
        row.replaced_at = now
        session.add(row)
    token = new_token()
    session.add(GridToken(token=token, grid_id=grid.id, created_at=now))
    session.flush()
    return token


def ancestors(session: Session, *, grid: Grid) -> list[Grid]:
    """The grid's parents, nearest first (community, street, and any level above)."""
    chain: list[Grid] = []
    seen = {grid.id}
    parent_id = grid.parent_id
    while parent_id is not None and parent_id not in seen:
        parent = session.get(Grid, parent_id)
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.id)
        parent_id = parent.parent_id
    return chain


@dataclass(frozen=True)
class GridView:
    """What a resident sees of a grid: names and the number to call."""

    grid: Grid
    community: Grid | None
    street: Grid | None
    office_phone: str | None


def describe(session: Session, *, grid: Grid) -> GridView:
    chain = ancestors(session, grid=grid)
    community = next((g for g in chain if g.level == Level.community), None)
    street = next((g for g in chain if g.level == Level.street), None)
    phone = None
    if community is not None:
        phone = community.office_phone
        if phone is None and community.contact_id is not None:
            dispatcher = session.get(Person, community.contact_id)
            phone = dispatcher.phone if dispatcher else None
    return GridView(grid=grid, community=community, street=street, office_phone=phone)


def basic_grids_under(session: Session, *, code: str | None) -> list[Grid]:
    """Every basic grid under code (any level; the grid itself if it is one), in code order."""
    if code is None:
        return list(session.exec(select(Grid).where(Grid.level == Level.grid).order_by(Grid.code)))
    root = get_by_code(session, code=code)
    rows = session.exec(select(Grid.id, Grid.parent_id, Grid.level)).all()
    children: dict[int | None, list[tuple[int, str]]] = {}
    for grid_id, parent_id, level in rows:
        children.setdefault(parent_id, []).append((grid_id, level))
    found: list[int] = []
    stack = [(root.id, root.level)]
    while stack:
        grid_id, level = stack.pop()
        if level == Level.grid:
            found.append(grid_id)
        stack.extend(children.get(grid_id, []))
    if not found:
        return []
    return list(session.exec(select(Grid).where(Grid.id.in_(found)).order_by(Grid.code)))
