"""The outbox: one row per notification, and every delivery attempt."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models_base import created_at_field, timestamp_field


class NotificationState(StrEnum):
    pending = "pending"
    delivered = "delivered"
    coalesced = "coalesced"  # superseded by a newer notification to the same person about the same case


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("step_id", "recipient_key"),
        Index("ix_notification_state_next_attempt_at", "state", "next_attempt_at"),
        # "When did this phone last get a call?" for the gateway's once-a-minute limit.
        Index("ix_notification_phone_delivered_at", "phone", "delivered_at"),
    )

    id: str = Field(primary_key=True, max_length=40)  # the payload's "id"; receivers deduplicate by it
    case_id: int = Field(foreign_key="cases.id", index=True)
    step_id: int | None = Field(default=None, foreign_key="case_step.id")
    recipient_key: str = Field(max_length=60)  # "person:<id>" or "resident"
    person_id: int | None = Field(default=None, foreign_key="person.id")
    phone: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    level: int = 0
    channel: str = Field(max_length=12)
    endpoint: str | None = Field(default=None, max_length=1000)  # Web Push: the subscription it goes to
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the exact bytes sent on every attempt
    state: str = Field(default=NotificationState.pending.value, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = timestamp_field(nullable=False)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    delivered_at: datetime | None = timestamp_field()


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(foreign_key="notification.id", index=True)
    attempt: int
    at: datetime = created_at_field()
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = Field(default=None, max_length=500)
    ok: bool = False


class PushSubscription(SQLModel, table=True):
    """A browser's Web Push endpoint for a staff member."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    created_at: datetime = created_at_field()
