"""The grid's page, the replaced-code page (410) and the 404 page; health and API docs."""

from sqlmodel import select

from app.db import session_scope
from app.grids import service as grid_service
from app.grids.models import Grid


def _token(code: str) -> str:
    with session_scope() as s:
        grid = s.exec(select(Grid).where(Grid.code == code)).one()
        return grid_service.current_token(s, grid_id=grid.id)


def test_grid_page_shows_grid_community_promise_and_office_phone(client, demo):
    page = client.get(f"/g/{_token('BY-RML-GYL-01')}")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    assert "公园路社区第一网格" in page.text and "公园路社区" in page.text
    assert "30分钟内联系您" in page.text
    assert 'href="tel:+869438221234"' in page.text


def test_community_without_office_phone_offers_the_dispatchers_phone(client, demo):
    page = client.get(f"/g/{_token('BY-RML-LZL-01')}")
    assert 'href="tel:+8613800000012"' in page.text


def test_grid_page_in_english(client, demo):
    page = client.get(f"/g/{_token('BY-RML-GYL-01')}?lang=en")
    assert 'lang="en"' in page.text and "within 30 minutes" in page.text


def test_rotated_token_answers_410_never_another_grid(client, demo):
    old = _token("BY-RML-GYL-01")
    with session_scope() as s:
        new = grid_service.rotate_token(s, code="BY-RML-GYL-01")
    page = client.get(f"/g/{old}")
    assert page.status_code == 410
    assert "二维码已更换" in page.text and "第一网格" not in page.text
    assert 'href="tel:+869438221234"' in page.text
    assert client.get(f"/g/{new}").status_code == 200


def test_unknown_token_is_a_404_page(client, demo):
    page = client.get("/g/not-a-real-token")
    assert page.status_code == 404 and "找不到" in page.text


def test_unknown_api_path_is_a_json_404(client, demo):
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_unknown_page_is_an_html_404_for_browsers(client, demo):
    page = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "<html" in page.text


def test_healthz_answers_with_database_and_scheduler(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"]["ok"] is True and "scheduler" in body


def test_openapi_and_docs_answer(client):
    assert client.get("/openapi.json").json()["info"]["title"].startswith("Mashang")
    assert client.get("/docs").status_code == 200


def test_tokens_carry_128_bits_of_randomness():
    tokens = {grid_service.new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) >= 22 for t in tokens)
