"""Abuse limits (429 with Retry-After) and the public tracking view (no personal data)."""

from fastapi.testclient import TestClient

from app.config import get_settings
from app.main import create_app
from tests.reports.helpers import case_count, report_body, token_of


def test_ten_reports_by_one_grid_worker_in_an_afternoon_pass(client, demo):
    for i in range(10):
        body = report_body(token_of(), description=f"替居民反映第{i}件事", contact_phone="13800000101")
        assert client.post("/api/v1/reports", json=body).status_code == 201


def test_a_flood_from_one_phone_gets_429_with_retry_after(client, demo):
    statuses = [client.post("/api/v1/reports", json=report_body(token_of(), description=f"第{i}次")).status_code
                for i in range(22)]
    assert statuses[:20] == [201] * 20 and statuses[20:] == [429, 429]
    answer = client.post("/api/v1/reports", json=report_body(token_of()))
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["error"]["code"] == "rate_limited"
    assert case_count() == 20


def test_a_flood_from_one_address_gets_429(client, demo):
    statuses = [client.post("/api/v1/reports", json=report_body(token_of(), contact_phone=f"1391234{i:04d}"))
                .status_code for i in range(125)]
    assert statuses.count(429) == 5 and statuses[:120] == [201] * 120


def test_rate_limits_off_lifts_them(db_url, demo, monkeypatch):
    monkeypatch.setenv("MASHANG_RATE_LIMITS", "off")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        for i in range(25):
            assert client.post("/api/v1/reports", json=report_body(token_of(), description=f"{i}")).status_code == 201


def test_tracking_shows_status_and_timeline_without_personal_data(client, demo):
    body = report_body(token_of(), contact_name="王小明",
                       on_behalf_of={"name": "王奶奶", "phone": "13700000000", "relation": "奶奶", "call": "both"})
    code = client.post("/api/v1/reports", json=body).json()["tracking_code"]
    answer = client.get(f"/api/v1/track/{code}")
    assert answer.status_code == 200
    track = answer.json()
    assert track["status"] == "open" and track["category"]["code"] == "repairs"
    assert [e["kind"] for e in track["timeline"]] == ["created"]
    text = answer.text
    for private in ("王小明", "王奶奶", "13912345678", "13700000000", "张伟", "13800000101", "+86"):
        assert private not in text


def test_tracking_code_may_be_typed_in_lower_case_with_a_dash(client, demo):
    code = client.post("/api/v1/reports", json=report_body(token_of())).json()["tracking_code"]
    assert client.get(f"/api/v1/track/{code[:5].lower()}-{code[5:].lower()}").status_code == 200


def test_unknown_tracking_code_is_404(client, demo):
    answer = client.get("/api/v1/track/AAAAA-AAAAA")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "case_not_found"


def test_tracking_page_shows_the_code_large_and_no_phone(client, demo):
    answer = client.post("/api/v1/reports", json=report_body(token_of())).json()
    page = client.get(answer["track_url"].split("8000")[-1])
    assert page.status_code == 200
    assert f"{answer['tracking_code'][:5]}-{answer['tracking_code'][5:]}" in page.text
    assert "已收到您的反映" in page.text and "13912345678" not in page.text


def test_admin_edits_categories_and_others_may_not(client, demo):
    from app.config import DEMO_PASSWORD

    worker = client.post("/api/v1/auth/login", json={"phone": "13800000101", "password": DEMO_PASSWORD}).json()
    edit = {"name": "供暖问题", "name_en": "Heating", "icon": "🔥"}
    refused = client.put("/api/v1/admin/categories/heating", json=edit,
                         headers={"Authorization": f"Bearer {worker['access_token']}"})
    assert refused.status_code == 403
    admin = client.post("/api/v1/auth/login", json={"phone": "13800000000", "password": DEMO_PASSWORD}).json()
    done = client.put("/api/v1/admin/categories/heating", json=edit,
                      headers={"Authorization": f"Bearer {admin['access_token']}"})
    assert done.status_code == 200
    assert "heating" in {c["code"] for c in client.get("/api/v1/categories").json()}
