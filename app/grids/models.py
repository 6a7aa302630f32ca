"""The grid tree (street -> community -> grid) and the QR tokens of basic grids."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models_base import created_at_field, timestamp_field


class Level(StrEnum):
    street = "street"
    community = "community"
    grid = "grid"


# Top to bottom; a parent is always exactly one level above its child.
LEVELS: tuple[Level, ...] = (Level.street, Level.community, Level.grid)


def parent_level(level: Level) -> Level | None:
    index = LEVELS.index(level)
    return LEVELS[index - 1] if index > 0 else None


class Grid(SQLModel, table=True):
    """A node of the grid tree; its contact is who gets paged at that level."""

    __tablename__ = "grid"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    level: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="grid.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    backup_id: int | None = Field(default=None, foreign_key="person.id")
    office_phone: str | None = Field(default=None, max_length=20)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class GridToken(SQLModel, table=True):
    """A QR token; a replaced one stays so its old poster answers 410, never another grid."""

    __tablename__ = "grid_token"
    __table_args__ = (Index("ix_grid_token_grid_id_current", "grid_id", "replaced_at"),)

    token: str = Field(primary_key=True, max_length=64)
    grid_id: int = Field(foreign_key="grid.id")
    created_at: datetime = created_at_field()
    replaced_at: datetime | None = timestamp_field()
