"""Logins and case helpers shared by the console tests."""

from sqlmodel import select

from app.config import DEMO_PASSWORD
from app.db import session_scope
from app.escalation.models import CaseRecipient, ContactView
from app.people.models import Person
from app.reports.models import Case

WORKER_GYL_01 = "13800000101"   # 张伟, grid GYL-01 (刘洋 is its backup)
BACKUP_GYL_01 = "13800000102"   # 刘洋, grid GYL-02 and backup of GYL-01
WORKER_GYL_03 = "13800000103"   # 陈静
WORKER_LZL_01 = "13800000104"   # 杨帆, another community
DISPATCHER_GYL = "13800000011"  # 王芳
DISPATCHER_LZL = "13800000012"  # 李明
SUPERVISOR = "13800000001"      # 马建国, the street
ADMIN = "13800000000"
RESIDENT_PHONE = "13912345678"


def bearer(client, phone: str) -> dict:
    """Log in and use the bearer token (no cookies kept, so no CSRF needed)."""
    answer = client.post("/api/v1/auth/login", json={"phone": phone, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def cookie_login(client, phone: str) -> str:
    """Log in as a browser does; returns the CSRF token from the readable cookie."""
    answer = client.post("/api/v1/auth/login", json={"phone": phone, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return client.cookies["mashang_csrf"]


def person_id(phone: str) -> int:
    with session_scope() as s:
        return s.exec(select(Person.id).where(Person.phone == f"+86{phone}")).one()


def contact_views(code: str) -> list[ContactView]:
    with session_scope() as s:
        case_id = s.exec(select(Case.id).where(Case.tracking_code == code)).one()
        return list(s.exec(select(ContactView).where(ContactView.case_id == case_id)))


def ack_path(code: str, phone: str) -> str:
    with session_scope() as s:
        case_id = s.exec(select(Case.id).where(Case.tracking_code == code)).one()
        token = s.exec(select(CaseRecipient.ack_token).where(CaseRecipient.case_id == case_id,
                                                             CaseRecipient.person_id == person_id(phone))).one()
    return f"/a/{token}"
