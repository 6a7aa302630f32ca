"""The schedule in the data: each case's steps, its recipients (with ack links) and contact-detail views."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models_base import created_at_field, timestamp_field


class StepKind(StrEnum):
    page = "page"              # page a level's recipients (level 0 at once)
    repage = "repage"          # page one recipient again while unacknowledged
    warning = "warning"        # time is running out
    escalate = "escalate"      # the deadline (or the level's time) passed: page the next level


class StepState(StrEnum):
    pending = "pending"
    done = "done"
    cancelled = "cancelled"


class CaseStep(SQLModel, table=True):
    """One scheduled step; the uniqueness constraint makes each happen once, whoever runs it."""

    __tablename__ = "case_step"
    __table_args__ = (
        UniqueConstraint("case_id", "kind", "level", "person_id", "seq"),
        Index("ix_case_step_state_due_at", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Its own index although the unique constraint leads with it: without statistics SQLite would answer
    # "case_id = ? AND state = 'pending'" (contact, close) from the state index, a scan of every pending step.
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=12)
    level: int = 0
    # 0 when the step is for a whole level (a unique constraint treats NULLs as distinct).
    person_id: int = Field(default=0)
    seq: int = 0
    due_at: datetime = timestamp_field(nullable=False)
    state: str = Field(default=StepState.pending.value, max_length=10)
    done_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()


class CaseRecipient(SQLModel, table=True):
    """Someone paged about a case, with their ack link (the link is the key)."""

    __tablename__ = "case_recipient"
    __table_args__ = (UniqueConstraint("case_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id")  # indexed by the unique constraint, which leads with it
    person_id: int = Field(foreign_key="person.id", index=True)
    level: int = 0
    ack_token: str = Field(max_length=64, unique=True)
    acked_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()


class ContactView(SQLModel, table=True):
    """Every time someone was shown a resident's phone number."""

    __tablename__ = "contact_view"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    via: str = Field(max_length=20)
    at: datetime = created_at_field()


class EscalationPolicy(SQLModel):
    """The timings and chain a case runs by, copied onto it when it is created."""

    contact_sla_seconds: int
    repage_seconds: int
    warning_lead_seconds: int
    escalation_step_seconds: int
    max_repages: int = 6
    chain: list[int] = []  # grid ids: level 0 the case's grid, then community, street, …


class CaseEscalation(SQLModel, table=True):
    """A case's running escalation: its copied policy and current level."""

    __tablename__ = "case_escalation"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    policy: dict = Field(sa_column=Column(JSON, nullable=False))
    level: int = 0
    assigned_person_id: int | None = Field(default=None, foreign_key="person.id")
