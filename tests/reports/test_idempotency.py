"""Idempotency-Key: a replay returns the first answer and creates nothing; another body is 422."""

import asyncio
from datetime import timedelta

import httpx

from app import clock
from tests.reports.helpers import case_count, report_body, token_of


def test_replayed_key_returns_the_first_answer_and_creates_no_second_case(client, demo):
    body = report_body(token_of())
    first = client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "draft-1"})
    again = client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "draft-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert case_count() == 1


def test_replay_with_reordered_and_respaced_json_is_the_same_body(client, demo):
    body = report_body(token_of())
    first = client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "draft-2"})
    import json

    reordered = json.dumps(dict(reversed(list(body.items()))), indent=4, ensure_ascii=True)
    again = client.post("/api/v1/reports", content=reordered.encode(),
                        headers={"Idempotency-Key": "draft-2", "Content-Type": "application/json"})
    assert again.json() == first.json() and case_count() == 1


def test_same_key_with_another_body_is_422(client, demo):
    client.post("/api/v1/reports", json=report_body(token_of()), headers={"Idempotency-Key": "draft-3"})
    other = client.post("/api/v1/reports", json=report_body(token_of(), description="另一件事"),
                        headers={"Idempotency-Key": "draft-3"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_mismatch"
    assert case_count() == 1


def test_different_keys_make_different_cases(client, demo):
    body = report_body(token_of())
    client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "a"})
    client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "b"})
    assert case_count() == 2


def test_keys_are_kept_seven_days(client, demo):
    body = report_body(token_of())
    first = client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "offline-draft"}).json()
    later = clock.now() + timedelta(days=7, hours=1)
    clock.set_source(lambda: later)
    again = client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "offline-draft"})
    assert again.json() == first and case_count() == 1


def test_ten_simultaneous_replays_make_exactly_one_case(client, demo):
    body = report_body(token_of())
    app = client.app

    async def fire() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*[
                http.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "same-instant"})
                for _ in range(10)])

    answers = asyncio.run(fire())
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses
    codes = {a.json()["tracking_code"] for a in answers if a.status_code == 201}
    assert len(codes) == 1
    assert case_count() == 1


def test_the_database_constraint_stops_a_double_from_a_second_instance(client, demo):
    """Two instances (two writers) with the same key at once: the primary key decides, one case."""
    from app.config import get_settings
    from app.reports import intake
    from app.reports.schemas import ReportCreate

    body = report_body(token_of())
    settings = get_settings()
    pendings = [intake.prepare(ReportCreate.model_validate(body), raw_body=body, idempotency_key="k-two",
                               settings=settings) for _ in range(2)]
    import threading

    results: list[object] = []

    def run(p):
        try:
            results.append(intake.submit_sync(p, settings=settings))
        except Exception as exc:  # noqa: BLE001
            results.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in pendings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = [r for r in results if isinstance(r, dict)]
    assert len({a["tracking_code"] for a in answers}) == 1
    assert case_count() == 1
