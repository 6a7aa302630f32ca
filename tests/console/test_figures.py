"""The three figures managers are judged on: on-time contact, completion, satisfaction (not collected yet)."""

from tests.console.helpers import DISPATCHER_GYL, DISPATCHER_LZL, WORKER_GYL_01, WORKER_GYL_03, bearer
from tests.escalation.harness import Timeline


def _figures(client, phone: str) -> dict:
    return client.get("/api/v1/board", headers=bearer(client, phone)).json()["figures"]


def test_figures_of_a_community_with_no_cases_are_empty(client, demo):
    figures = _figures(client, DISPATCHER_GYL)
    assert figures["on_time_contact"] == {"rate": None, "count": 0, "total": 0}
    assert figures["completion"] == {"rate": None, "count": 0, "total": 0}
    assert figures["satisfaction"] is None and figures["period_days"] == 30


def test_on_time_contact_counts_cases_contacted_or_past_their_deadline(client, demo):
    tl = Timeline()
    on_time = tl.report("BY-RML-GYL-01")
    late = tl.report("BY-RML-GYL-01")
    tl.report("BY-RML-GYL-03")  # never contacted: it counts against once its deadline passes
    tl.at(10)
    worker = bearer(client, WORKER_GYL_01)
    client.post(f"/api/v1/cases/{on_time}/contact", headers=worker)
    tl.at(40)
    client.post(f"/api/v1/cases/{late}/contact", headers=worker)
    tl.report("BY-RML-GYL-03")  # deadline still ahead: not counted yet
    tl.report("BY-RML-LZL-01")  # another community
    figures = _figures(client, DISPATCHER_GYL)
    assert figures["on_time_contact"] == {"rate": 0.3333, "count": 1, "total": 3}


def test_completion_is_closed_over_all_cases_of_the_period(client, demo):
    tl = Timeline()
    closed = tl.report("BY-RML-GYL-01")
    tl.report("BY-RML-GYL-03")
    tl.report("BY-RML-GYL-03")
    tl.report("BY-RML-GYL-03")
    client.post(f"/api/v1/cases/{closed}/close", headers=bearer(client, DISPATCHER_GYL))
    assert _figures(client, DISPATCHER_GYL)["completion"] == {"rate": 0.25, "count": 1, "total": 4}


def test_cases_older_than_the_period_are_left_out(client, demo):
    tl = Timeline()
    tl.report("BY-RML-GYL-03")
    tl.at(31 * 24 * 60)
    recent = tl.report("BY-RML-GYL-03")
    client.post(f"/api/v1/cases/{recent}/contact", headers=bearer(client, WORKER_GYL_03))
    figures = _figures(client, DISPATCHER_GYL)
    assert figures["on_time_contact"] == {"rate": 1.0, "count": 1, "total": 1}
    assert figures["completion"]["total"] == 1


def test_each_community_has_its_own_figures(client, demo):
    tl = Timeline()
    tl.report("BY-RML-GYL-01")
    assert _figures(client, DISPATCHER_LZL)["completion"]["total"] == 0
