"""Every table model, imported in one place for Alembic and the app."""

from app.auth.models import AuthSession, LoginFailure
from app.grids.models import Grid, GridToken
from app.people.models import Person

__all__ = ["AuthSession", "Grid", "GridToken", "LoginFailure", "Person"]
