"""Cases (a resident's report), their categories, events, attachments, idempotency keys and rate counters."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models_base import created_at_field, timestamp_field


class CaseStatus(StrEnum):
    open = "open"              # waiting for a grid worker to contact the resident
    contacted = "contacted"    # the resident was contacted; being handled
    resolved = "resolved"      # handled, waiting for review
    closed = "closed"          # reviewed and closed


class Channel(StrEnum):
    qr = "qr"
    phone = "phone"
    hotline_12345 = "12345"
    open311 = "open311"


class CallWhom(StrEnum):
    reporter = "reporter"
    relative = "relative"
    both = "both"


class Category(SQLModel, table=True):
    """A kind of problem; data, so an admin can edit the list."""

    __tablename__ = "category"

    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=50)
    name_en: str = Field(max_length=80)
    icon: str = Field(default="", max_length=16)
    position: int = Field(default=0)
    active: bool = Field(default=True)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        # The sweep and the dispatcher board ask "which open cases are due": composite, not two indexes.
        Index("ix_cases_status_contact_due_at", "status", "contact_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tracking_code: str = Field(max_length=16, unique=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)
    category_code: str = Field(foreign_key="category.code", max_length=40)
    description: str = Field(sa_column=Column(Text, nullable=False))
    contact_phone: str = Field(max_length=20)
    contact_name: str | None = Field(default=None, max_length=100)
    proxy_name: str | None = Field(default=None, max_length=100)
    proxy_phone: str | None = Field(default=None, max_length=20)
    proxy_relation: str | None = Field(default=None, max_length=50)
    proxy_call: str | None = Field(default=None, max_length=10)
    lat: float | None = None
    lng: float | None = None
    accuracy_m: float | None = None
    channel: str = Field(default=Channel.qr.value, max_length=10)
    status: str = Field(default=CaseStatus.open.value, max_length=12)
    created_at: datetime = created_at_field()
    contact_due_at: datetime = timestamp_field(nullable=False)
    contacted_at: datetime | None = timestamp_field()
    contacted_on_time: bool | None = None
    closed_at: datetime | None = timestamp_field()
    upload_token_hash: str = Field(max_length=64)
    upload_expires_at: datetime = timestamp_field(nullable=False)


class CaseEvent(SQLModel, table=True):
    """One thing that happened to a case; public events appear on the resident's tracking page."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=30)
    at: datetime = created_at_field()
    public: bool = Field(default=False)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    detail: dict | None = Field(default=None, sa_column=Column(JSON))


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("case_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=10)  # photo | voice
    content_type: str = Field(max_length=50)
    stored_name: str = Field(max_length=100)
    thumb_name: str | None = Field(default=None, max_length=100)
    size_bytes: int
    width: int | None = None
    height: int | None = None
    idempotency_key: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()


class IdempotencyKey(SQLModel, table=True):
    """A client's key and the first answer it got; the primary key is the constraint that stops doubles."""

    __tablename__ = "idempotency_key"

    scope: str = Field(primary_key=True, max_length=40)
    key: str = Field(primary_key=True, max_length=100)
    request_hash: str = Field(max_length=64)
    response_status: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()
    expires_at: datetime = timestamp_field(nullable=False, index=True)


class RateCounter(SQLModel, table=True):
    """Requests per key per fixed window, shared by every instance."""

    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, max_length=100)
    window: int = Field(primary_key=True, description="epoch seconds // window length")
    count: int = 0
    expires_at: datetime = timestamp_field(nullable=False, index=True)


@dataclass
class CreatedCase:
    """What the escalation engine learns about a case just written (inside its transaction)."""

    id: int
    tracking_code: str
    grid_id: int
    category_code: str
    created_at: datetime
    contact_due_at: datetime
