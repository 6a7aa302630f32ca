"""Who among staff may see a case: an admin, or the contact or backup of its grid or of any grid above it."""

from sqlmodel import Session

from app.errors import Forbidden
from app.grids import service as grid_service
from app.grids.models import Grid
from app.people.models import Person, Role
from app.reports import service as report_service
from app.reports.models import Case


def can_see_case(session: Session, *, person: Person, case: Case) -> bool:
    """Admin always; otherwise the grid worker, community dispatcher or street supervisor over the case's grid."""
    if person.role == Role.admin:
        return True
    grid = session.get(Grid, case.grid_id)
    if grid is None or person.id is None:
        return False
    chain = [grid, *grid_service.ancestors(session, grid=grid)]
    return any(person.id in (g.contact_id, g.backup_id) for g in chain)


def case_for_staff(session: Session, *, tracking_code: str, person: Person) -> Case:
    """The case if this person may see it: 404 unknown code, 403 someone else's case."""
    case = report_service.get_case(session, tracking_code=tracking_code)
    if not can_see_case(session, person=person, case=case):
        raise Forbidden("forbidden")
    return case
