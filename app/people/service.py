"""People: create or update by phone, passwords (argon2), and posts in the grid tree."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlmodel import Session, select

from app import clock
from app.errors import InvalidInput
from app.grids import service as grid_service
from app.grids.models import Level
from app.people.models import Person, Role
from app.phones import normalize_phone

_hasher = PasswordHasher()
# Verified against when the phone is unknown, so a miss costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

LEVEL_FOR_ROLE = {Role.worker: Level.grid, Role.dispatcher: Level.community, Role.supervisor: Level.street}
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("validation_error", field="password",
                           message=f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
                           message_en=f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(person: Person | None, password: str) -> bool:
    """True if password is person's; constant work whether or not the person exists."""
    stored = person.password_hash if person is not None and person.password_hash else _DUMMY_HASH
    try:
        ok = _hasher.verify(stored, password)
    except (VerifyMismatchError, InvalidHashError):
        return False
    return ok and person is not None and person.password_hash is not None


def get_by_phone(session: Session, *, phone: str) -> Person | None:
    return session.exec(select(Person).where(Person.phone == phone)).first()


def add_or_update(
    session: Session,
    *,
    phone: str,
    name: str,
    role: str,
    grid_code: str | None = None,
    password: str | None = None,
) -> tuple[Person, bool]:
    """Create the person with that phone, or update them; returns (person, created)."""
    e164 = normalize_phone(phone)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("validation_error", field="name",
                           message="姓名不能为空，且不超过100个字符",
                           message_en="The name must be 1 to 100 characters")
    try:
        role_value = Role(role)
    except ValueError:
        raise InvalidInput("validation_error", field="role",
                           message=f"角色须为 {', '.join(r.value for r in Role)} 之一",
                           message_en=f"role must be one of {', '.join(r.value for r in Role)}") from None
    grid = None
    if grid_code is not None:
        grid = grid_service.get_by_code(session, code=grid_code)
        expected = LEVEL_FOR_ROLE.get(role_value)
        if expected is None or grid.level != expected:
            raise InvalidInput(
                "validation_error", field="grid",
                message=f"{role_value} 不能负责 {grid.level} 级的 {grid_code}",
                message_en=f"a {role_value} cannot hold the post of {grid_code}, which is a {grid.level}"
                + (f" (a {role_value} is posted to a {expected})" if expected else ""),
            )
    password_hash = hash_password(password) if password is not None else None
    person = get_by_phone(session, phone=e164)
    created = person is None
    now = clock.now()
    if person is None:
        person = Person(phone=e164, name=name, role=role_value.value, created_at=now, updated_at=now)
    person.name, person.role, person.updated_at = name, role_value.value, now
    if password_hash is not None:
        person.password_hash = password_hash
    session.add(person)
    session.flush()
    if grid is not None:
        grid.contact_id = person.id
        grid.updated_at = now
        session.add(grid)
        session.flush()
    return person, created
