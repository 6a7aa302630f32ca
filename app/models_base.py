"""Shared column helpers for table models."""

from datetime import datetime

from sqlmodel import Field

from app import clock
from app.db import UTCDateTime


def created_at_field() -> datetime:
    return Field(default_factory=clock.now, sa_type=UTCDateTime, nullable=False)


def timestamp_field(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)
