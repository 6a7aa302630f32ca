"""Every table model, imported in one place for Alembic and the app."""

from app.auth.models import AuthSession, LoginFailure
from app.grids.models import Grid, GridToken
from app.people.models import Person
from app.reports.models import Attachment, Case, CaseEvent, Category, IdempotencyKey, RateCounter

__all__ = ["Attachment", "AuthSession", "Case", "CaseEvent", "Category", "Grid", "GridToken", "IdempotencyKey",
           "LoginFailure", "Person", "RateCounter"]
