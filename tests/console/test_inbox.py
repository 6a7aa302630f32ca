"""The worker's inbox: their grids' open cases and those reassigned to them, most urgent first, no phone numbers."""

from tests.console.helpers import (
    BACKUP_GYL_01,
    DISPATCHER_LZL,
    WORKER_GYL_01,
    WORKER_GYL_03,
    WORKER_LZL_01,
    bearer,
)
from tests.escalation.harness import Timeline


def _codes(client, phone: str) -> list[str]:
    answer = client.get("/api/v1/inbox", headers=bearer(client, phone))
    assert answer.status_code == 200, answer.text
    return [c["tracking_code"] for c in answer.json()["cases"]]


def test_inbox_lists_the_grids_cases_soonest_deadline_first(client, demo):
    tl = Timeline()
    first = tl.report()
    tl.at(5)
    second = tl.report(description="小区门口路灯不亮")
    tl.at(8)
    third = tl.report(description="垃圾桶满了")
    other_grid = tl.report("BY-RML-GYL-03")
    assert _codes(client, WORKER_GYL_01) == [first, second, third]
    assert other_grid not in _codes(client, WORKER_GYL_01)


def test_the_backup_worker_sees_the_grid_cases_too(client, demo):
    tl = Timeline()
    code = tl.report()
    assert code in _codes(client, BACKUP_GYL_01)


def test_contacted_cases_come_after_those_still_waiting(client, demo):
    tl = Timeline()
    first = tl.report()
    tl.at(5)
    second = tl.report()
    headers = bearer(client, WORKER_GYL_01)
    assert client.post(f"/api/v1/cases/{first}/contact", headers=headers).status_code == 200
    answer = client.get("/api/v1/inbox", headers=headers).json()
    assert [c["tracking_code"] for c in answer["cases"]] == [second, first]
    assert answer["cases"][1]["status"] == "contacted"


def test_closed_cases_leave_the_inbox(client, demo):
    tl = Timeline()
    code = tl.report()
    client.post(f"/api/v1/cases/{code}/close", headers=bearer(client, "13800000011"))
    assert _codes(client, WORKER_GYL_01) == []


def test_an_overdue_case_is_marked_and_stays_on_top(client, demo):
    tl = Timeline()
    late = tl.report()
    tl.at(20)
    fresh = tl.report()
    tl.at(31)
    cases = client.get("/api/v1/inbox", headers=bearer(client, WORKER_GYL_01)).json()["cases"]
    assert [(c["tracking_code"], c["overdue"]) for c in cases] == [(late, True), (fresh, False)]


def test_inbox_shows_no_phone_number_and_no_resident_name(client, demo):
    tl = Timeline()
    tl.report(contact_name="王小明", on_behalf_of={"name": "王奶奶", "phone": "13700000000", "relation": "奶奶",
                                                   "call": "both"})
    tl.at(0)
    text = client.get("/api/v1/inbox", headers=bearer(client, WORKER_GYL_01)).text
    for secret in ("13912345678", "13700000000", "王小明", "王奶奶", "phone"):
        assert secret not in text


def test_a_case_reassigned_from_another_community_reaches_the_new_workers_inbox(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-LZL-01")
    answer = client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": WORKER_GYL_03},
                         headers=bearer(client, DISPATCHER_LZL))
    assert answer.status_code == 200
    cases = client.get("/api/v1/inbox", headers=bearer(client, WORKER_GYL_03)).json()["cases"]
    assert [(c["tracking_code"], c["assigned_to_me"]) for c in cases] == [(code, True)]
    theirs = client.get("/api/v1/inbox", headers=bearer(client, WORKER_LZL_01)).json()["cases"]
    assert theirs[0]["assigned_to"]["name"] == "陈静" and theirs[0]["assigned_to_me"] is False


def test_acknowledging_shows_in_the_inbox(client, demo):
    tl = Timeline()
    tl.report()
    page = next(p for p in tl.at(0) if p["recipient"]["name"] == "张伟")
    client.post(page["ack_url"].split("8000", 1)[1], headers={"Accept": "application/json"})
    cases = client.get("/api/v1/inbox", headers=bearer(client, WORKER_GYL_01)).json()["cases"]
    assert cases[0]["acked"] is True


def test_inbox_needs_a_login(client, demo):
    assert client.get("/api/v1/inbox").status_code == 401


def test_inbox_answers_are_not_cached(client, demo):
    answer = client.get("/api/v1/inbox", headers=bearer(client, WORKER_GYL_01))
    assert answer.headers["cache-control"] == "private, no-store"
