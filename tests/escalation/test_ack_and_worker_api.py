"""The ack link (no login) and the worker API: from a page to "contacted" in a few taps."""

from sqlmodel import select

from app.config import DEMO_PASSWORD
from app.db import session_scope
from app.escalation.models import CaseRecipient, ContactView
from app.people.models import Person
from app.reports.models import Case
from tests.escalation.harness import Timeline


def _paged_case(tl: Timeline) -> tuple[str, str]:
    code = tl.report(contact_name="王小明")
    page = tl.at(0)[0]
    return code, page["ack_url"].split("8000", 1)[1]


def _login(client, phone: str) -> dict:
    token = client.post("/api/v1/auth/login", json={"phone": phone, "password": DEMO_PASSWORD}).json()["access_token"]
    client.cookies.clear()
    return {"Authorization": f"Bearer {token}"}


def test_ack_page_shows_summary_call_link_and_both_buttons(client, demo):
    tl = Timeline()
    code, path = _paged_case(tl)
    page = client.get(path)
    assert page.status_code == 200
    assert "楼道灯坏了" in page.text and 'href="tel:+8613912345678"' in page.text
    assert f'action="{path}/contact"' in page.text and f'action="{path}"' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_viewing_the_ack_page_logs_who_saw_the_phone_number(client, demo):
    tl = Timeline()
    _, path = _paged_case(tl)
    client.get(path)
    with session_scope() as s:
        views = s.exec(select(ContactView)).all()
    assert len(views) == 1 and views[0].via == "ack_link" and views[0].person_id is not None


def test_proxy_report_offers_the_relative_to_call(client, demo):
    tl = Timeline()
    tl.report(on_behalf_of={"name": "王奶奶", "phone": "13700000000", "relation": "奶奶", "call": "relative"})
    path = tl.at(0)[0]["ack_url"].split("8000", 1)[1]
    page = client.get(path)
    assert 'href="tel:+8613700000000"' in page.text and "tel:+8613912345678" not in page.text


def test_ack_then_contact_from_the_page_is_two_posts(client, demo):
    tl = Timeline()
    code, path = _paged_case(tl)
    acked = client.post(path, follow_redirects=False)
    assert acked.status_code == 303
    contacted = client.post(f"{path}/contact", follow_redirects=True)
    assert contacted.status_code == 200 and "网格员已联系" in contacted.text
    case = tl.case(code)
    assert case.status == "contacted" and case.contacted_on_time


def test_ack_answers_json_when_asked(client, demo):
    tl = Timeline()
    _, path = _paged_case(tl)
    answer = client.post(path, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json()["acknowledged_at"]
    with session_scope() as s:
        assert all(r.acked_at is None or r.acked_at for r in s.exec(select(CaseRecipient)))


def test_unknown_ack_link_is_404(client, demo):
    assert client.get("/a/not-a-token").status_code == 404
    assert client.post("/a/not-a-token", headers={"Accept": "application/json"}).status_code == 404


def test_ack_link_is_410_once_the_case_is_closed(client, demo):
    tl = Timeline()
    code, path = _paged_case(tl)
    headers = _login(client, "13800000011")
    assert client.post(f"/api/v1/cases/{code}/close", headers=headers).status_code == 200
    assert client.get(path).status_code == 410
    assert client.post(path, headers={"Accept": "application/json"}).status_code == 410
    assert client.post(f"{path}/contact").status_code == 410


def test_worker_records_contact_through_the_api(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    answer = client.post(f"/api/v1/cases/{code}/contact", json={"note": "已电话联系"},
                         headers=_login(client, "13800000101"))
    assert answer.status_code == 200 and answer.json()["contacted_on_time"] is True


def test_worker_of_another_grid_may_not_record_contact(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    answer = client.post(f"/api/v1/cases/{code}/contact", headers=_login(client, "13800000104"))
    assert answer.status_code == 403 and tl.case(code).status == "open"


def test_contact_needs_a_login(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    assert client.post(f"/api/v1/cases/{code}/contact").status_code == 401


def test_dispatcher_reassigns_and_the_new_worker_is_paged(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    answer = client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": "138 0000 0103"},
                         headers=_login(client, "13800000011"))
    assert answer.status_code == 200 and answer.json()["assigned_to"]["name"] == "陈静"
    assert [(p["kind"], p["recipient"]["name"]) for p in tl.at(0)] == [("page", "陈静")]


def test_a_worker_may_not_reassign(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    answer = client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": "13800000103"},
                         headers=_login(client, "13800000101"))
    assert answer.status_code == 403


def test_reassign_to_someone_who_is_not_a_worker_is_422(client, demo):
    tl = Timeline()
    code, _ = _paged_case(tl)
    answer = client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": "13800000001"},
                         headers=_login(client, "13800000011"))
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "worker_phone"


def test_public_timeline_shows_paged_and_contacted_without_names(client, demo):
    tl = Timeline()
    code, path = _paged_case(tl)
    client.post(f"{path}/contact")
    track = client.get(f"/api/v1/track/{code}")
    kinds = [e["kind"] for e in track.json()["timeline"]]
    assert kinds == ["created", "paged", "contacted"]
    assert "张伟" not in track.text and "王小明" not in track.text
    with session_scope() as s:
        assert s.exec(select(Case).where(Case.tracking_code == code)).one().status == "contacted"
        assert s.exec(select(Person)).first() is not None
