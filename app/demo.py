"""The demo city: one street in Baiyin, two communities, six grids (one vacant), with logins."""

from dataclasses import dataclass

from sqlmodel import Session, select

from app.config import DEMO_PASSWORD, Settings
from app.errors import DomainError
from app.grids import service as grid_service
from app.grids.importer import import_grids
from app.grids.models import Grid, Level
from app.people import service as people_service
from app.people.models import Person

DEMO_GRID_FILE = """code,name,level,parent_code,contact_name,contact_phone,backup_name,backup_phone,office_phone
BY-RML,白银区人民路街道,street,,马建国,13800000001,,,
BY-RML-GYL,公园路社区,community,BY-RML,王芳,13800000011,,,0943-8221234
BY-RML-LZL,兰州路社区,community,BY-RML,李明,13800000012,,,
BY-RML-GYL-01,公园路社区第一网格,grid,BY-RML-GYL,张伟,13800000101,刘洋,13800000102,
BY-RML-GYL-02,公园路社区第二网格,grid,BY-RML-GYL,刘洋,13800000102,,,
BY-RML-GYL-03,公园路社区第三网格,grid,BY-RML-GYL,陈静,13800000103,,,
BY-RML-LZL-01,兰州路社区第一网格,grid,BY-RML-LZL,杨帆,13800000104,,,
BY-RML-LZL-02,兰州路社区第二网格,grid,BY-RML-LZL,赵磊,13800000105,,,
BY-RML-LZL-03,兰州路社区第三网格（待配网格员）,grid,BY-RML-LZL,,,,,
"""
DEMO_ADMIN = ("13800000000", "管理员", "admin")


@dataclass(frozen=True)
class DemoLogin:
    phone: str
    name: str
    role: str
    post: str


@dataclass(frozen=True)
class DemoGrid:
    code: str
    name: str
    url: str
    vacant: bool


class DemoRefused(DomainError):
    status_code = 400


def is_empty(session: Session) -> bool:
    return session.exec(select(Grid.id).limit(1)).first() is None


def load(session: Session, *, settings: Settings) -> None:
    """Load the demo city into an empty database, with the fixed demo password for every login."""
    if not settings.demo_passwords_allowed:
        raise DemoRefused("validation_error", message="生产环境不加载演示数据（演示密码是公开的）",
                          message_en="The demo city is refused in production: its passwords are public")
    import_grids(session, data=DEMO_GRID_FILE.encode())
    phone, name, role = DEMO_ADMIN
    people_service.add_or_update(session, phone=phone, name=name, role=role)
    # One hash for the one public demo password: argon2 is slow on purpose.
    demo_hash = people_service.hash_password(DEMO_PASSWORD)
    for person in session.exec(select(Person)):
        person.password_hash = demo_hash
        session.add(person)
    session.flush()


def describe(session: Session, *, settings: Settings) -> tuple[list[DemoLogin], list[DemoGrid]]:
    """The demo logins and each demo grid's resident link, as they are now in the database."""
    grids = list(session.exec(select(Grid).where(Grid.code.startswith("BY-RML")).order_by(Grid.code)))
    posts: dict[int, list[str]] = {}
    for grid in grids:
        if grid.contact_id:
            posts.setdefault(grid.contact_id, []).append(grid.name)
        if grid.backup_id:
            posts.setdefault(grid.backup_id, []).append(f"{grid.name}（备岗）")
    people = session.exec(select(Person).order_by(Person.phone)).all()
    logins = [DemoLogin(p.phone, p.name, p.role, "、".join(posts.get(p.id, [])) or "—")
              for p in people if p.password_hash and (p.id in posts or p.role == "admin")]
    links = []
    for grid in grids:
        if grid.level != Level.grid:
            continue
        token = grid_service.current_token(session, grid_id=grid.id)
        links.append(DemoGrid(grid.code, grid.name, grid_service.grid_url(settings, token), grid.contact_id is None))
    return logins, links
