"""Who among staff may see a case: an admin, the contact or backup of its grid or of any grid above it,
the worker it was reassigned to, and anyone who was paged about it."""

from sqlmodel import Session, select

from app.errors import Forbidden
from app.escalation.models import CaseEscalation, CaseRecipient
from app.grids import service as grid_service
from app.grids.models import Grid
from app.people.models import Person, Role
from app.reports import service as report_service
from app.reports.models import Case


def can_see_case(session: Session, *, person: Person, case: Case) -> bool:
    """Admin always; the grid worker, dispatcher or supervisor over the case's grid; its assigned worker; its paged."""
    if person.role == Role.admin:
        return True
    grid = session.get(Grid, case.grid_id)
    if grid is None or person.id is None:
        return False
    chain = [grid, *grid_service.ancestors(session, grid=grid)]
    if any(person.id in (g.contact_id, g.backup_id) for g in chain):
        return True
    # A worker of another grid to whom the case was reassigned, or anyone paged about it, must see what to do.
    escalation = session.get(CaseEscalation, case.id)
    if escalation is not None and escalation.assigned_person_id == person.id:
        return True
    return session.exec(select(CaseRecipient.id).where(CaseRecipient.case_id == case.id,
                                                       CaseRecipient.person_id == person.id)).first() is not None


def case_for_staff(session: Session, *, tracking_code: str, person: Person) -> Case:
    """The case if this person may see it: 404 unknown code, 403 someone else's case."""
    case = report_service.get_case(session, tracking_code=tracking_code)
    if not can_see_case(session, person=person, case=case):
        raise Forbidden("forbidden")
    return case
