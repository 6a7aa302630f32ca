"""Notes: staff-only lines on a case's history, by anyone who may see the case."""

import asyncio

import httpx
from sqlmodel import select

from app.db import session_scope
from app.reports.models import CaseEvent
from tests.console.helpers import DISPATCHER_GYL, WORKER_GYL_01, WORKER_LZL_01, bearer, cookie_login, person_id
from tests.escalation.harness import Timeline


def test_a_note_is_a_private_event_with_its_author(client, demo):
    tl = Timeline()
    code = tl.report()
    answer = client.post(f"/api/v1/cases/{code}/notes", json={"text": "  物业已到现场  "},
                         headers=bearer(client, DISPATCHER_GYL))
    assert answer.status_code == 201
    assert answer.json()["text"] == "物业已到现场" and answer.json()["actor"] == "王芳"
    with session_scope() as s:
        note = s.exec(select(CaseEvent).where(CaseEvent.kind == "note")).one()
    assert note.public is False and note.actor_id == person_id(DISPATCHER_GYL)
    assert note.detail == {"text": "物业已到现场"}


def test_a_note_shows_on_the_case_page_but_never_to_the_resident(client, demo):
    tl = Timeline()
    code = tl.report()
    headers = bearer(client, WORKER_GYL_01)
    client.post(f"/api/v1/cases/{code}/notes", json={"text": "居民不在家，晚上再打"}, headers=headers)
    events = client.get(f"/api/v1/cases/{code}", headers=headers).json()["events"]
    assert events[-1]["kind"] == "note" and events[-1]["text"] == "居民不在家，晚上再打"
    assert "居民不在家" not in client.get(f"/api/v1/track/{code}").text


def test_an_empty_or_too_long_note_is_refused(client, demo):
    tl = Timeline()
    code = tl.report()
    headers = bearer(client, WORKER_GYL_01)
    blank = client.post(f"/api/v1/cases/{code}/notes", json={"text": "   "}, headers=headers)
    assert blank.status_code == 422 and blank.json()["error"]["code"] == "note_empty"
    long = client.post(f"/api/v1/cases/{code}/notes", json={"text": "长" * 501}, headers=headers)
    assert long.status_code == 422 and long.json()["error"]["field"] == "text"


def test_staff_of_another_grid_may_not_add_a_note(client, demo):
    tl = Timeline()
    code = tl.report()
    answer = client.post(f"/api/v1/cases/{code}/notes", json={"text": "x"}, headers=bearer(client, WORKER_LZL_01))
    assert answer.status_code == 403


def test_a_note_from_the_browser_needs_the_csrf_header(client, demo):
    tl = Timeline()
    code = tl.report()
    csrf = cookie_login(client, WORKER_GYL_01)
    assert client.post(f"/api/v1/cases/{code}/notes", json={"text": "x"}).status_code == 403
    assert client.post(f"/api/v1/cases/{code}/notes", json={"text": "x"},
                       headers={"X-CSRF-Token": csrf}).status_code == 201


def test_sixty_notes_at_once_are_all_written(client, demo):
    """A request's session is opened and closed in thread-pool calls that may land on different threads, and
    sixty writers at once outnumber the pool: nothing may tie the session to one thread or hold a pool thread
    waiting for another request's turn."""
    code = Timeline().report()
    headers = bearer(client, DISPATCHER_GYL)

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://test") as api:
            posts = [api.post(f"/api/v1/cases/{code}/notes", json={"text": f"第{n}次回访"}, headers=headers)
                     for n in range(60)]
            return await asyncio.wait_for(asyncio.gather(*posts), timeout=90)

    answers = asyncio.run(all_at_once())
    assert [a.status_code for a in answers] == [201] * 60
    with session_scope() as s:
        assert len(s.exec(select(CaseEvent).where(CaseEvent.kind == "note")).all()) == 60
