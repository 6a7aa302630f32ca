"""The dispatcher's board: a community's grids and open cases, who was paged, delivered and acknowledged."""

from tests.console.helpers import (
    ADMIN,
    DISPATCHER_GYL,
    DISPATCHER_LZL,
    SUPERVISOR,
    WORKER_GYL_01,
    WORKER_LZL_01,
    ack_path,
    bearer,
)
from tests.escalation.harness import Timeline


def _board(client, phone: str, community: str | None = None) -> dict:
    path = "/api/v1/board" + (f"?community={community}" if community else "")
    answer = client.get(path, headers=bearer(client, phone))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_dispatcher_sees_their_community_grids_and_open_cases(client, demo):
    tl = Timeline()
    mine = tl.report("BY-RML-GYL-02")
    tl.report("BY-RML-LZL-01")
    board = _board(client, DISPATCHER_GYL)
    assert board["community"]["code"] == "BY-RML-GYL"
    assert [c["code"] for c in board["communities"]] == ["BY-RML-GYL"]
    assert [g["code"] for g in board["grids"]] == ["BY-RML-GYL-01", "BY-RML-GYL-02", "BY-RML-GYL-03"]
    assert [c["tracking_code"] for c in board["cases"]] == [mine]
    assert {g["code"]: g["open"] for g in board["grids"]} == {"BY-RML-GYL-01": 0, "BY-RML-GYL-02": 1,
                                                               "BY-RML-GYL-03": 0}


def test_overdue_cases_are_counted_per_grid_and_listed_first(client, demo):
    tl = Timeline()
    late = tl.report("BY-RML-GYL-01")
    tl.at(20)
    fresh = tl.report("BY-RML-GYL-01")
    tl.at(31)
    board = _board(client, DISPATCHER_GYL)
    assert [(c["tracking_code"], c["overdue"]) for c in board["cases"]] == [(late, True), (fresh, False)]
    row = board["grids"][0]
    assert (row["open"], row["overdue"], row["unassigned"]) == (2, 1, 0)


def test_a_case_in_a_vacant_grid_is_unassigned_until_someone_is_given_it(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-LZL-03")
    tl.at(0)
    board = _board(client, DISPATCHER_LZL)
    row = next(g for g in board["grids"] if g["code"] == "BY-RML-LZL-03")
    assert row["vacant"] and row["unassigned"] == 1 and board["cases"][0]["unassigned"] is True
    client.post(f"/api/v1/cases/{code}/reassign", json={"worker_phone": WORKER_LZL_01},
                headers=bearer(client, DISPATCHER_LZL))
    board = _board(client, DISPATCHER_LZL)
    assert board["cases"][0]["unassigned"] is False and board["cases"][0]["assigned_to"]["name"] == "杨帆"
    assert next(g for g in board["grids"] if g["code"] == "BY-RML-LZL-03")["unassigned"] == 0


def test_the_board_shows_who_was_paged_whether_delivered_and_acknowledged(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-GYL-01")
    tl.at(0)
    client.post(ack_path(code, WORKER_GYL_01), headers={"Accept": "application/json"})
    paging = {p["name"]: p for p in _board(client, DISPATCHER_GYL)["cases"][0]["paging"]}
    assert set(paging) == {"张伟", "刘洋"}
    assert paging["张伟"]["delivered"] and paging["张伟"]["acked_at"] is not None
    assert paging["刘洋"]["delivered"] and paging["刘洋"]["acked_at"] is None
    assert paging["张伟"]["pages"] == 1 and paging["张伟"]["role"] == "worker"


def test_an_undelivered_page_shows_its_failed_tries(client, demo):
    tl = Timeline()
    tl.pager.fail_with = 503
    tl.report("BY-RML-GYL-02")
    tl.at(0)
    paged = _board(client, DISPATCHER_GYL)["cases"][0]["paging"]
    assert [(p["name"], p["delivered"], p["attempts"] >= 1) for p in paged] == [("刘洋", False, True)]


def test_an_escalated_case_shows_the_dispatcher_was_paged(client, demo):
    tl = Timeline()
    tl.report("BY-RML-GYL-02")
    tl.at(0)
    tl.at(30)
    case = _board(client, DISPATCHER_GYL)["cases"][0]
    assert case["escalation_level"] == 1
    assert [(p["name"], p["level"]) for p in case["paging"]] == [("刘洋", 0), ("王芳", 1)]


def test_the_board_lists_no_resident_phone_number(client, demo):
    tl = Timeline()
    tl.report("BY-RML-GYL-01", contact_name="王小明")
    tl.at(0)
    text = client.get("/api/v1/board", headers=bearer(client, DISPATCHER_GYL)).text
    assert "13912345678" not in text and "王小明" not in text


def test_reassignment_choices_are_the_communitys_workers(client, demo):
    workers = _board(client, DISPATCHER_GYL)["workers"]
    assert [(w["name"], w["phone"], w["grid"]["code"]) for w in workers] == [
        ("张伟", "+8613800000101", "BY-RML-GYL-01"), ("刘洋", "+8613800000102", "BY-RML-GYL-01"),
        ("陈静", "+8613800000103", "BY-RML-GYL-03")]


def test_notes_appear_on_the_board(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-GYL-01")
    client.post(f"/api/v1/cases/{code}/notes", json={"text": "已转物业"}, headers=bearer(client, DISPATCHER_GYL))
    notes = _board(client, DISPATCHER_GYL)["cases"][0]["notes"]
    assert [(n["actor"], n["text"]) for n in notes] == [("王芳", "已转物业")]


def test_the_supervisor_sees_every_community_of_their_street(client, demo):
    tl = Timeline()
    code = tl.report("BY-RML-LZL-02")
    board = _board(client, SUPERVISOR)
    assert [c["code"] for c in board["communities"]] == ["BY-RML-GYL", "BY-RML-LZL"]
    assert board["community"]["code"] == "BY-RML-GYL" and board["cases"] == []
    assert [c["tracking_code"] for c in _board(client, SUPERVISOR, "BY-RML-LZL")["cases"]] == [code]


def test_admin_sees_all_communities(client, demo):
    assert [c["code"] for c in _board(client, ADMIN)["communities"]] == ["BY-RML-GYL", "BY-RML-LZL"]


def test_another_communitys_board_is_403_and_an_unknown_one_404(client, demo):
    headers = bearer(client, DISPATCHER_GYL)
    assert client.get("/api/v1/board?community=BY-RML-LZL", headers=headers).status_code == 403
    missing = client.get("/api/v1/board?community=NOPE", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "community_not_found"


def test_a_worker_may_not_open_the_board(client, demo):
    answer = client.get("/api/v1/board", headers=bearer(client, WORKER_GYL_01))
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "board_forbidden"
    assert client.get("/api/v1/board").status_code == 401
