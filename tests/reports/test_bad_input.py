"""Bad input never gives a 500 and never leaves a partial case; each names its field in both languages."""

import pytest

from tests.reports.helpers import case_count, report_body, token_of


def _assert_error(answer, status: int, code: str | None = None, field: str | None = None) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"code", "field", "message", "message_en"}
    assert error["message"] and error["message_en"]
    if code:
        assert error["code"] == code
    if field:
        assert error["field"] == field
    assert case_count() == 0
    return error


def test_malformed_json_is_400(client, demo):
    answer = client.post("/api/v1/reports", content=b'{"grid_token": ', headers={"Content-Type": "application/json"})
    _assert_error(answer, 400, "malformed_json")


def test_non_utf8_body_is_400(client, demo):
    answer = client.post("/api/v1/reports", content=b'{"a": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    _assert_error(answer, 400, "malformed_json")


def test_wrong_content_type_is_415(client, demo):
    answer = client.post("/api/v1/reports", content=b"grid_token=x", headers={"Content-Type": "text/plain"})
    _assert_error(answer, 415, "unsupported_media_type")


def test_form_encoded_body_is_415(client, demo):
    _assert_error(client.post("/api/v1/reports", data={"grid_token": "x"}), 415)


def test_json_array_is_422(client, demo):
    _assert_error(client.post("/api/v1/reports", json=[1, 2]), 422)


def test_oversized_body_is_413_before_reading_it_whole(client, demo):
    body = report_body(token_of(), description="长" * 100_000)
    _assert_error(client.post("/api/v1/reports", json=body), 413, "too_large")


def test_lying_content_length_is_413(client, demo):
    answer = client.post("/api/v1/reports", content=b"{}", headers={"Content-Type": "application/json",
                                                                      "Content-Length": "99999999"})
    assert answer.status_code in (400, 413)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"contact_phone": None}, "contact_phone"),
    ({"contact_phone": "12345"}, "contact_phone"),
    ({"contact_phone": "not a phone"}, "contact_phone"),
    ({"description": ""}, "description"),
    ({"description": "   "}, "description"),
    ({"description": "字" * 2001}, "description"),
    ({"category": "weather"}, "category"),
    ({"location": {"lat": 91, "lng": 0}}, "location.lat"),
    ({"location": {"lat": 0, "lng": -181}}, "location.lng"),
    ({"location": {"lat": 0, "lng": 0, "accuracy_m": -1}}, "location.accuracy_m"),
    ({"location": {"lat": "north", "lng": 0}}, "location.lat"),
    ({"on_behalf_of": {"name": "", "relation": "母亲", "call": "reporter"}}, "on_behalf_of.name"),
    ({"on_behalf_of": {"name": "王奶奶", "relation": "母亲", "call": "everyone"}}, "on_behalf_of.call"),
    ({"on_behalf_of": {"name": "王奶奶", "relation": "母亲", "phone": "1", "call": "both"}}, "on_behalf_of.phone"),
    ({"grid_token": ""}, "grid_token"),
    ({"description": 12}, "description"),
])
def test_invalid_field_is_422_naming_it(client, demo, overrides, field):
    body = report_body(token_of(), **overrides)
    if overrides.get("contact_phone", "") is None:
        del body["contact_phone"]
    _assert_error(client.post("/api/v1/reports", json=body), 422, field=field)


def test_unknown_grid_token_is_404(client, demo):
    _assert_error(client.post("/api/v1/reports", json=report_body("no-such-token")), 404, "grid_not_found",
                  "grid_token")


def test_very_long_grid_token_is_422(client, demo):
    _assert_error(client.post("/api/v1/reports", json=report_body("x" * 500)), 422, field="grid_token")


def test_oversized_idempotency_key_is_422(client, demo):
    answer = client.post("/api/v1/reports", json=report_body(token_of()), headers={"Idempotency-Key": "k" * 101})
    _assert_error(answer, 422, field="Idempotency-Key")


def test_inactive_category_is_refused(client, demo):
    from app.db import session_scope
    from app.reports.models import Category

    with session_scope() as s:
        s.get(Category, "policy").active = False
    _assert_error(client.post("/api/v1/reports", json=report_body(token_of(), category="policy")), 422,
                  "unknown_category", "category")
