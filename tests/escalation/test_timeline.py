"""The 30-minute rule on a controlled clock: page, re-page, warn, escalate, ack, contact, vacancy, reassign."""

import json

from sqlmodel import select

from app.db import session_scope
from app.escalation import service
from app.escalation.models import CaseRecipient
from tests.escalation.harness import T0, Timeline, summary

WORKER, BACKUP, DISPATCHER, SUPERVISOR = "张伟", "刘洋", "王芳", "马建国"


def _ack_token(code: str, name: str) -> str:
    from app.people.models import Person
    from app.reports.models import Case

    with session_scope() as s:
        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        person = s.exec(select(Person).where(Person.name == name)).one()
        return s.exec(select(CaseRecipient).where(CaseRecipient.case_id == case.id,
                                                  CaseRecipient.person_id == person.id)).one().ack_token


def test_worker_and_backup_are_paged_at_once(db_url, demo):
    tl = Timeline()
    tl.report()
    assert summary(tl.at(0)) == [("page", 0, BACKUP), ("page", 0, WORKER)]


def test_unacknowledged_pages_repeat_every_ten_minutes(db_url, demo):
    tl = Timeline()
    tl.report()
    tl.at(0)
    assert tl.at(9.9) == []
    assert summary(tl.at(10)) == [("repage", 0, BACKUP), ("repage", 0, WORKER)]


def test_warning_comes_ten_minutes_before_the_deadline(db_url, demo):
    tl = Timeline()
    tl.report()
    tl.at(0)
    tl.at(10)
    kinds = summary(tl.at(20))
    assert ("warning", 0, WORKER) in kinds and ("warning", 0, BACKUP) in kinds


def test_at_thirty_minutes_the_dispatcher_is_paged_and_the_worker_told(db_url, demo):
    tl = Timeline()
    code = tl.report()
    for minute in (0, 10, 20):
        tl.at(minute)
    at_30 = summary(tl.at(30))
    assert ("escalation", 1, DISPATCHER) in at_30
    assert ("escalation", 0, WORKER) in at_30
    assert "escalated" in tl.events(code)


def test_at_sixty_minutes_the_street_supervisor_is_paged(db_url, demo):
    tl = Timeline()
    tl.report()
    for minute in (0, 10, 20, 30, 40, 50):
        tl.at(minute)
    assert ("escalation", 2, SUPERVISOR) in summary(tl.at(60))


def test_acknowledging_stops_re_pages_of_that_recipient_only(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    with session_scope() as s:
        service.acknowledge(s, token=_ack_token(code, WORKER), now=tl.now)
    assert summary(tl.at(10)) == [("repage", 0, BACKUP)]


def test_acknowledging_does_not_move_the_deadline(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    due = tl.case(code).contact_due_at
    with session_scope() as s:
        service.acknowledge(s, token=_ack_token(code, WORKER), now=tl.now)
    assert tl.case(code).contact_due_at == due
    tl.at(10)
    tl.at(20)
    assert ("escalation", 1, DISPATCHER) in summary(tl.at(30))


def test_contact_stops_everything_and_tells_the_resident(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    tl.now = T0.replace(minute=12)
    with session_scope() as s:
        from app.reports.models import Case

        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        service.record_contact(s, case=case, person_id=None, now=tl.now, settings=tl.settings, via="test")
    delivered = tl.at(12)
    assert [(p["kind"], p["recipient"]["role"]) for p in delivered] == [("resident_update", "resident")]
    assert "ack_url" not in delivered[0]
    for minute in (20, 30, 60, 90):
        assert tl.at(minute) == []
    case = tl.case(code)
    assert case.status == "contacted" and case.contacted_on_time is True


def test_contact_after_the_deadline_is_marked_late(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    tl.at(31)
    with session_scope() as s:
        from app.reports.models import Case

        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        service.record_contact(s, case=case, person_id=None, now=tl.now, settings=tl.settings, via="test")
    assert tl.case(code).contacted_on_time is False


def test_vacant_grid_pages_the_dispatcher_at_once_and_records_the_gap(db_url, demo):
    tl = Timeline()
    code = tl.report("BY-RML-LZL-03")
    assert summary(tl.at(0)) == [("escalation", 1, "李明")]
    assert "vacant" in tl.events(code)
    assert summary(tl.at(10)) == [("repage", 1, "李明")]
    assert all(p["level"] != 2 for p in tl.at(30))


def test_vacant_grid_still_reaches_the_supervisor_after_the_step(db_url, demo):
    tl = Timeline()
    tl.report("BY-RML-LZL-03")
    for minute in (0, 10, 20, 30, 40, 50):
        tl.at(minute)
    assert ("escalation", 2, SUPERVISOR) in summary(tl.at(60))


def test_reassignment_pages_the_new_worker_at_once_and_keeps_the_deadline(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    due = tl.case(code).contact_due_at
    tl.now = T0.replace(minute=5)
    with session_scope() as s:
        from app.reports.models import Case

        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        service.reassign(s, case=case, worker_phone="13800000103", actor_id=None, now=tl.now)
    assert summary(tl.at(5)) == [("page", 0, "陈静")]
    assert tl.case(code).contact_due_at == due
    assert ("warning", 0, "陈静") in summary(tl.at(20))


def test_after_downtime_due_steps_run_at_once_and_once(db_url, demo):
    tl = Timeline()
    tl.report()
    late = summary(tl.at(65))
    kinds = [k for k, _, _ in late]
    assert kinds.count("page") == 2 and kinds.count("warning") == 2
    assert ("escalation", 1, DISPATCHER) in late and ("escalation", 2, SUPERVISOR) in late
    assert kinds.count("repage") == 0
    assert tl.at(65) == []


def test_missed_re_pages_collapse_into_one(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    with session_scope() as s:
        service.acknowledge(s, token=_ack_token(code, BACKUP), now=tl.now)
    late = [p for p in tl.at(28) if p["kind"] == "repage"]
    assert [p["recipient"]["name"] for p in late] == [WORKER]
    assert [p for p in tl.at(29) if p["kind"] == "repage"] == []


def test_closing_stops_everything_and_kills_ack_links(db_url, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    token = _ack_token(code, WORKER)
    with session_scope() as s:
        from app.reports.models import Case

        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        service.close(s, case=case, actor_id=None, now=tl.now, settings=tl.settings)
    assert [p["kind"] for p in tl.at(0)] == ["resident_update"]
    assert tl.at(30) == []
    import pytest

    from app.errors import Gone

    with session_scope() as s, pytest.raises(Gone):
        service.acknowledge(s, token=token, now=tl.now)


def test_payload_matches_the_contract(db_url, demo):
    tl = Timeline()
    code = tl.report(description="很长的描述" * 30)
    page = tl.at(0)[0]
    assert set(page) == {"id", "kind", "level", "recipient", "case", "ack_url"}
    assert set(page["recipient"]) == {"role", "name", "phone"} and page["recipient"]["phone"].startswith("+86")
    assert set(page["case"]) == {"tracking_code", "category", "grid", "created_at", "contact_due_at", "summary"}
    assert page["case"]["tracking_code"] == code and len(page["case"]["summary"]) <= 70
    assert page["case"]["grid"] == {"code": "BY-RML-GYL-01", "name": "公园路社区第一网格"}
    assert page["ack_url"].startswith("http://127.0.0.1:8000/a/")
    assert page["case"]["created_at"].endswith("Z")


def test_every_step_is_recorded_once_however_often_the_sweep_runs(db_url, demo):
    tl = Timeline()
    tl.report()
    first = tl.at(0)
    from app.escalation import sweeper

    for _ in range(5):
        sweeper.sweep(settings=tl.settings, now=tl.now)
    assert tl.at(0) == [] and len(first) == 2


def test_a_changed_policy_does_not_alter_a_running_case(db_url, demo, monkeypatch):
    tl = Timeline()
    tl.report()
    tl.at(0)
    monkeypatch.setenv("MASHANG_REPAGE_SECONDS", "60")
    from app.config import get_settings

    get_settings.cache_clear()
    tl.settings = get_settings()
    assert tl.at(2) == []
    assert len(tl.at(10)) == 2


def test_same_bytes_on_every_retry(db_url, demo):
    tl = Timeline()
    tl.pager.fail_with = 503
    tl.report()
    tl.at(0)
    first = [o.payload for o in tl.pager.sent]
    tl.pager.fail_with = None
    tl.at(20)
    by_id: dict[str, set[str]] = {}
    for outgoing in tl.pager.sent:
        by_id.setdefault(outgoing.id, set()).add(outgoing.payload)
    assert all(len(v) == 1 for v in by_id.values())
    assert {json.loads(p)["id"] for p in first} <= set(by_id)


def test_a_step_that_fails_is_retried_later_and_does_not_stop_the_others(db_url, demo, monkeypatch):
    """The batch is rolled back and run step by step: the good case is paged, the bad one waits 30 s and retries."""
    from app.escalation import sweeper

    tl = Timeline()
    good, bad = tl.report(), tl.report("BY-RML-GYL-02")
    bad_id = tl.case(bad).id
    real_run_step = service.run_step

    def failing(session, *, step, **kwargs):
        if step.case_id == bad_id:
            raise RuntimeError("a broken step")
        return real_run_step(session, step=step, **kwargs)

    monkeypatch.setattr(service, "run_step", failing)
    paged = tl.at(0)
    assert {p["case"]["tracking_code"] for p in paged} == {good}
    assert "paged" in tl.events(good) and "paged" not in tl.events(bad)

    monkeypatch.setattr(service, "run_step", real_run_step)
    assert tl.at(0.25) == [], "not before the retry delay"
    retried = tl.at(sweeper.RETRY_FAILED_STEP.total_seconds() / 60)
    assert {p["case"]["tracking_code"] for p in retried} == {bad}
