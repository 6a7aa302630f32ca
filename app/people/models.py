"""People: residents are not people here; these are staff who are paged or log in."""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models_base import created_at_field


class Role(StrEnum):
    worker = "worker"
    dispatcher = "dispatcher"
    supervisor = "supervisor"
    department = "department"
    admin = "admin"


class PersonBase(SQLModel):
    phone: str = Field(max_length=20, unique=True, description="E.164")
    name: str = Field(max_length=100)
    role: str = Field(max_length=20)


class Person(PersonBase, table=True):
    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()


class PersonPublic(PersonBase):
    id: int
