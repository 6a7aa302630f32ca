"""The resident API's shapes."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.reports.models import CallWhom


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class OnBehalfOf(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    relation: str = Field(min_length=1, max_length=50)
    call: CallWhom

    @field_validator("name", "relation")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value


class ReportCreate(BaseModel):
    model_config = ConfigDict(str_max_length=4000)

    grid_token: str = Field(min_length=1, max_length=64)
    category: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=2000)
    contact_phone: str = Field(min_length=1, max_length=40)
    contact_name: str | None = Field(default=None, max_length=100)
    on_behalf_of: OnBehalfOf | None = None
    location: Location | None = None

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("contact_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return (value or "").strip() or None


class ReportCreated(BaseModel):
    tracking_code: str
    status: str
    created_at: datetime
    contact_due_at: datetime
    track_url: str
    upload_token: str


class CategoryPublic(BaseModel):
    code: str
    name: str
    name_en: str
    icon: str = ""


class CommunityPublic(BaseModel):
    code: str | None
    name: str | None
    phone: str | None


class GridPublic(BaseModel):
    code: str
    name: str
    community: CommunityPublic
    categories: list[CategoryPublic]


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    label: str
    label_en: str


class TrackPublic(BaseModel):
    tracking_code: str
    status: str
    status_label: str
    status_label_en: str
    category: CategoryPublic
    grid: dict
    created_at: datetime
    contact_due_at: datetime
    contacted_at: datetime | None
    contacted_on_time: bool | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]
