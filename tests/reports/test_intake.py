"""POST /api/v1/reports and GET /api/v1/grids/{token}: the contract's resident API."""

from datetime import datetime, timedelta

from sqlmodel import select

from app.db import session_scope
from app.grids import service as grid_service
from app.reports.codes import ALPHABET
from app.reports.models import Case, CaseEvent
from tests.reports.helpers import case_count, report_body, token_of


def test_grid_lookup_gives_names_office_phone_and_categories(client, demo):
    body = client.get(f"/api/v1/grids/{token_of()}").json()
    assert body["code"] == "BY-RML-GYL-01" and body["name"] == "公园路社区第一网格"
    assert body["community"] == {"code": "BY-RML-GYL", "name": "公园路社区", "phone": "+869438221234"}
    assert {c["code"] for c in body["categories"]} >= {"sanitation", "repairs", "help", "other"}
    assert all(c["name"] and c["name_en"] for c in body["categories"])


def test_grid_lookup_unknown_token_is_404(client, demo):
    answer = client.get("/api/v1/grids/nope")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "grid_not_found"


def test_grid_lookup_replaced_token_is_410(client, demo):
    old = token_of()
    with session_scope() as s:
        grid_service.rotate_token(s, code="BY-RML-GYL-01")
    assert client.get(f"/api/v1/grids/{old}").status_code == 410


def test_report_is_created_with_due_time_tracking_code_and_upload_token(client, demo):
    answer = client.post("/api/v1/reports", json=report_body(token_of()))
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {"tracking_code", "status", "created_at", "contact_due_at", "track_url", "upload_token"}
    assert len(body["tracking_code"]) == 10 and set(body["tracking_code"]) <= set(ALPHABET)
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None and body["created_at"].endswith("Z")
    assert datetime.fromisoformat(body["contact_due_at"]) - created == timedelta(seconds=1800)
    assert body["track_url"].endswith(f"/t/{body['tracking_code']}") and body["status"] == "open"


def test_case_records_normalised_phone_proxy_location_and_channel(client, demo):
    body = report_body(token_of(), contact_name=" 王小明 ",
                       on_behalf_of={"name": "王奶奶", "phone": "0943-8220000", "relation": "奶奶", "call": "both"},
                       location={"lat": 36.545, "lng": 104.173, "accuracy_m": 12})
    code = client.post("/api/v1/reports", json=body).json()["tracking_code"]
    with session_scope() as s:
        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        event = s.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
    assert case.contact_phone == "+8613912345678" and case.contact_name == "王小明"
    assert (case.proxy_name, case.proxy_phone, case.proxy_relation, case.proxy_call) == \
        ("王奶奶", "+869438220000", "奶奶", "both")
    assert (case.lat, case.lng, case.accuracy_m) == (36.545, 104.173, 12)
    assert case.channel == "qr" and case.status == "open"
    assert event.kind == "created" and event.public


def test_contact_sla_follows_the_setting(client, demo, monkeypatch):
    from app.config import get_settings

    monkeypatch.setenv("MASHANG_CONTACT_SLA_SECONDS", "60")
    get_settings.cache_clear()
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app()) as other:
        body = other.post("/api/v1/reports", json=report_body(token_of())).json()
    delta = datetime.fromisoformat(body["contact_due_at"]) - datetime.fromisoformat(body["created_at"])
    assert delta == timedelta(seconds=60)


def test_relative_to_be_called_needs_a_phone(client, demo):
    body = report_body(token_of(), on_behalf_of={"name": "王奶奶", "relation": "奶奶", "call": "relative"})
    answer = client.post("/api/v1/reports", json=body)
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "on_behalf_of.phone"
    assert case_count() == 0


def test_proxy_report_without_relative_phone_is_fine_when_the_reporter_is_called(client, demo):
    body = report_body(token_of(), on_behalf_of={"name": "王奶奶", "relation": "奶奶", "call": "reporter"})
    assert client.post("/api/v1/reports", json=body).status_code == 201


def test_replaced_token_report_is_410_and_creates_nothing(client, demo):
    old = token_of()
    with session_scope() as s:
        grid_service.rotate_token(s, code="BY-RML-GYL-01")
    answer = client.post("/api/v1/reports", json=report_body(old))
    assert answer.status_code == 410 and answer.json()["error"]["field"] == "grid_token"
    assert case_count() == 0
