"""Posters for export: what each basic grid's poster says, gathered in a few queries."""

from collections.abc import Iterator
from pathlib import Path

from sqlmodel import Session, select

from app.config import Settings
from app.grids import service as grid_service
from app.grids.models import Grid, GridToken, Level
from app.grids.service import grid_url
from app.people.models import Person
from app.phones import display_phone
from app.qr.poster import Poster


def posters_under(session: Session, *, code: str | None, settings: Settings) -> list[Poster]:
    """A poster for every basic grid under code (all grids if None), in code order."""
    grids = grid_service.basic_grids_under(session, code=code)
    if not grids:
        return []
    by_id = {g.id: g for g in session.exec(select(Grid).where(Grid.level != Level.grid))}
    tokens = dict(session.exec(select(GridToken.grid_id, GridToken.token).where(GridToken.replaced_at.is_(None))).all())
    phones = dict(session.exec(select(Person.id, Person.phone)).all())
    posters = []
    for grid in grids:
        token = tokens.get(grid.id) or grid_service.issue_token(session, grid=grid)
        community = by_id.get(grid.parent_id)
        street = by_id.get(community.parent_id) if community else None
        office = None
        if community is not None:
            office = community.office_phone or phones.get(community.contact_id)
        posters.append(Poster(
            url=grid_url(settings, token), grid_code=grid.code, grid_name=grid.name,
            community_name=community.name if community else "", street_name=street.name if street else None,
            office_phone=display_phone(office), sla_minutes=settings.contact_sla_seconds // 60,
        ))
    return posters


def charset(posters: list[Poster]) -> str:
    """Every character any of these posters prints (the PDF font is subset to it once)."""
    chars: set[str] = set()
    for poster in posters:
        for text in (poster.grid_name, poster.community_name, poster.street_name or "", poster.office_phone or "",
                     poster.grid_code, poster.url):
            chars.update(text)
    return "".join(sorted(chars))


def png_path(out_dir: Path, poster: Poster) -> Path:
    return out_dir / f"{poster.grid_code}.png"


def iter_batches(posters: list[Poster], size: int) -> Iterator[list[Poster]]:
    for start in range(0, len(posters), size):
        yield posters[start:start + size]
