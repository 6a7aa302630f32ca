"""Every table model, imported in one place for Alembic and the app."""

from app.auth.models import AuthSession, LoginFailure
from app.escalation.models import CaseEscalation, CaseRecipient, CaseStep, ContactView
from app.grids.models import Grid, GridToken
from app.paging.models import DeliveryAttempt, Notification, PushSubscription
from app.people.models import Person
from app.reports.models import Attachment, Case, CaseEvent, Category, IdempotencyKey, RateCounter

__all__ = [
    "Attachment", "AuthSession", "Case", "CaseEscalation", "CaseEvent", "CaseRecipient", "CaseStep", "Category",
    "ContactView", "DeliveryAttempt", "Grid", "GridToken", "IdempotencyKey", "LoginFailure", "Notification", "Person",
    "PushSubscription", "RateCounter",
]
