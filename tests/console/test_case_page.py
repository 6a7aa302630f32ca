"""The case page's API: whom to call only for staff who may see the case, and every showing of a number logged."""

from tests.console.helpers import (
    ADMIN,
    DISPATCHER_GYL,
    DISPATCHER_LZL,
    RESIDENT_PHONE,
    SUPERVISOR,
    WORKER_GYL_01,
    WORKER_GYL_03,
    WORKER_LZL_01,
    ack_path,
    bearer,
    contact_views,
    cookie_login,
    person_id,
)
from tests.escalation.harness import Timeline


def test_case_page_gives_the_number_to_call_and_the_case(client, demo):
    tl = Timeline()
    code = tl.report(contact_name="王小明", location={"lat": 36.5457, "lng": 104.1389, "accuracy_m": 12})
    answer = client.get(f"/api/v1/cases/{code}", headers=bearer(client, WORKER_GYL_01))
    assert answer.status_code == 200
    case = answer.json()
    assert case["calls"] == [{"who": "reporter", "name": "王小明", "phone": f"+86{RESIDENT_PHONE}",
                              "display": "139 1234 5678", "relation": None}]
    assert case["description"] == "楼道灯坏了，老人晚上看不见" and case["category"]["code"] == "repairs"
    assert case["grid"]["code"] == "BY-RML-GYL-01" and case["community"]["code"] == "BY-RML-GYL"
    assert case["location"]["geo_url"] == "geo:36.545700,104.138900?q=36.545700,104.138900"
    assert answer.headers["cache-control"] == "private, no-store"


def test_every_showing_of_the_number_is_logged_with_who_saw_it(client, demo):
    tl = Timeline()
    code = tl.report()
    headers = bearer(client, WORKER_GYL_01)
    client.get(f"/api/v1/cases/{code}", headers=headers)
    client.get(f"/api/v1/cases/{code}", headers=headers)
    views = contact_views(code)
    assert [(v.via, v.person_id) for v in views] == [("case_page", person_id(WORKER_GYL_01))] * 2


def test_a_proxy_report_puts_the_relative_first(client, demo):
    tl = Timeline()
    code = tl.report(on_behalf_of={"name": "王奶奶", "phone": "13700000000", "relation": "奶奶", "call": "both"})
    calls = client.get(f"/api/v1/cases/{code}", headers=bearer(client, WORKER_GYL_01)).json()["calls"]
    assert [(c["who"], c["phone"]) for c in calls] == [("relative", "+8613700000000"),
                                                        ("reporter", f"+86{RESIDENT_PHONE}")]


def test_a_worker_of_another_grid_gets_403_and_no_number(client, demo):
    tl = Timeline()
    code = tl.report()
    for phone in (WORKER_GYL_03, WORKER_LZL_01, DISPATCHER_LZL):
        answer = client.get(f"/api/v1/cases/{code}", headers=bearer(client, phone))
        assert answer.status_code == 403 and RESIDENT_PHONE not in answer.text
    assert contact_views(code) == []


def test_dispatcher_supervisor_and_admin_over_the_grid_may_open_the_case(client, demo):
    tl = Timeline()
    code = tl.report()
    for phone in (DISPATCHER_GYL, SUPERVISOR, ADMIN):
        assert client.get(f"/api/v1/cases/{code}", headers=bearer(client, phone)).status_code == 200
    assert len(contact_views(code)) == 3


def test_the_worker_a_case_was_reassigned_to_may_open_it(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-LZL-01")
    assert client.get(f"/api/v1/cases/{code}", headers=bearer(client, WORKER_GYL_03)).status_code == 403
    client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": WORKER_GYL_03},
                headers=bearer(client, DISPATCHER_LZL))
    answer = client.get(f"/api/v1/cases/{code}", headers=bearer(client, WORKER_GYL_03))
    assert answer.status_code == 200 and answer.json()["assigned_to"]["name"] == "陈静"
    assert client.post(f"/api/v1/cases/{code}/contact", headers=bearer(client, WORKER_GYL_03)).status_code == 200


def test_unknown_case_is_404_and_a_login_is_needed(client, demo):
    assert client.get("/api/v1/cases/ZZZZZZZZZZ", headers=bearer(client, WORKER_GYL_01)).status_code == 404
    tl = Timeline()
    code = tl.report()
    assert client.get(f"/api/v1/cases/{code}").status_code == 401


def test_a_closed_case_shows_no_number_and_logs_nothing(client, demo):
    tl = Timeline()
    code = tl.report()
    client.post(f"/api/v1/cases/{code}/close", headers=bearer(client, DISPATCHER_GYL))
    case = client.get(f"/api/v1/cases/{code}", headers=bearer(client, WORKER_GYL_01)).json()
    assert case["status"] == "closed" and case["calls"] == [] and contact_views(code) == []


def test_the_case_offers_my_own_ack_link_until_i_acknowledge(client, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    headers = bearer(client, WORKER_GYL_01)
    mine = client.get(f"/api/v1/cases/{code}", headers=headers).json()["my_ack_path"]
    assert mine == ack_path(code, WORKER_GYL_01)
    client.post(mine, headers={"Accept": "application/json"})
    assert client.get(f"/api/v1/cases/{code}", headers=headers).json()["my_ack_path"] is None


def test_history_shows_paging_and_contact_but_not_delivery_noise(client, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    headers = bearer(client, WORKER_GYL_01)
    client.post(f"/api/v1/cases/{code}/contact", json={"note": "已电话联系"}, headers=headers)
    case = client.get(f"/api/v1/cases/{code}", headers=headers).json()
    assert [e["kind"] for e in case["events"]] == ["created", "paged", "contacted"]
    assert case["events"][-1]["actor"] == "张伟" and case["events"][-1]["text"] == "已电话联系"
    assert {p["name"] for p in case["paging"]} == {"张伟", "刘洋"}


def test_contact_from_the_page_with_the_session_cookie_needs_the_csrf_header(client, demo):
    tl = Timeline()
    code = tl.report()
    csrf = cookie_login(client, WORKER_GYL_01)
    assert client.get(f"/api/v1/cases/{code}").status_code == 200
    assert client.post(f"/api/v1/cases/{code}/contact", json={}).status_code == 403
    answer = client.post(f"/api/v1/cases/{code}/contact", json={}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200 and answer.json()["status"] == "contacted"
