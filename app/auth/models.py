"""Login sessions and failed-login records (in the database so every instance shares them)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models_base import created_at_field, timestamp_field


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = created_at_field()
    expires_at: datetime = timestamp_field(nullable=False, index=True)


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, index=True)
    at: datetime = created_at_field()
