"""What the consoles' JSON APIs answer; resident phone numbers appear only in CaseDetail.calls."""

from datetime import datetime

from pydantic import BaseModel, Field


class CategoryRef(BaseModel):
    code: str
    name: str
    name_en: str


class GridRef(BaseModel):
    code: str
    name: str


class StaffRef(BaseModel):
    id: int
    name: str
    role: str


class CaseSummary(BaseModel):
    """A case in a list: no phone number, no resident name."""

    tracking_code: str
    status: str
    category: CategoryRef
    grid: GridRef
    summary: str
    created_at: datetime
    contact_due_at: datetime
    contacted_at: datetime | None
    overdue: bool = Field(description="still waiting for contact after its deadline")
    assigned_to: StaffRef | None = Field(description="the worker it was reassigned to, if any")


class InboxCase(CaseSummary):
    assigned_to_me: bool
    acked: bool = Field(description="this person acknowledged the page")


class Inbox(BaseModel):
    now: datetime
    person: StaffRef
    cases: list[InboxCase]


class CallTarget(BaseModel):
    who: str  # reporter | relative
    name: str | None
    phone: str = Field(description="E.164, for the tel: link")
    display: str = Field(description="as people here write it")
    relation: str | None = None


class CaseLocation(BaseModel):
    lat: float
    lng: float
    accuracy_m: float | None
    geo_url: str


class CaseEventView(BaseModel):
    kind: str
    at: datetime
    actor: str | None
    text: str | None = None


class PagedPerson(BaseModel):
    """One person paged about a case: how often, whether it reached them, whether they acknowledged."""

    name: str
    role: str
    level: int
    pages: int
    first_paged_at: datetime
    delivered: bool
    delivered_at: datetime | None
    attempts: int
    acked_at: datetime | None


class CaseDetail(CaseSummary):
    """The case page: everything a worker needs to call and record the contact."""

    now: datetime
    description: str
    community: GridRef | None
    contacted_on_time: bool | None
    closed_at: datetime | None
    location: CaseLocation | None
    calls: list[CallTarget] = Field(description="resident phone numbers; each answer is logged as a ContactView")
    my_ack_path: str | None = Field(description="this person's own ack link, while not yet acknowledged")
    events: list[CaseEventView]
    paging: list[PagedPerson]


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=500)


class Rate(BaseModel):
    rate: float | None = Field(description="count / total, or null when total is 0")
    count: int
    total: int


class Figures(BaseModel):
    """The three figures managers are judged on, over the last period_days days of reports."""

    period_days: int
    on_time_contact: Rate
    completion: Rate
    satisfaction: float | None = Field(default=None, description="not collected yet: always null")


class GridRow(BaseModel):
    code: str
    name: str
    worker: str | None
    backup: str | None
    vacant: bool
    open: int
    overdue: int
    unassigned: int


class BoardCase(CaseSummary):
    unassigned: bool
    escalation_level: int
    paging: list[PagedPerson]
    notes: list[CaseEventView]


class WorkerChoice(BaseModel):
    id: int
    name: str
    phone: str
    grid: GridRef


class Board(BaseModel):
    now: datetime
    communities: list[GridRef]
    community: GridRef | None
    figures: Figures | None
    grids: list[GridRow]
    cases: list[BoardCase]
    workers: list[WorkerChoice]
