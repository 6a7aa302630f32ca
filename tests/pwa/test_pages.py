"""The resident pages as HTML: the form without JavaScript, text size, privacy, and the tracking page."""

import re

from sqlmodel import select

from app.db import session_scope
from app.grids import service as grid_service
from app.reports.models import Case
from tests.reports.helpers import case_count, token_of

FORM = {"category": "repairs", "description": "路灯坏了", "contact_phone": "139 1234 5678",
        "form_key": "0123456789abcdef0123456789abcdef"}


def test_grid_page_renders_the_core_form_server_side(client, demo):
    html = client.get(f"/g/{token_of()}").text
    assert '<form id="report" method="post"' in html
    assert html.count('name="category"') == 8
    assert 'name="description"' in html and 'name="contact_phone"' in html
    assert 'type="module"' in html and 'id="page-data"' in html
    assert "只用于网格员就这次反映联系您" in html and 'href="/privacy"' in html


def test_page_strings_for_the_script_are_json_in_the_page_language(client, demo):
    html = client.get(f"/g/{token_of()}?lang=en").text
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html).group(1)
    assert '"queue_not_sent":"Not sent"' in data
    assert '"voice_only_description":"（语音反映，请听录音）"' in data, "the grid worker reads Chinese"


def test_form_without_javascript_creates_a_case_and_shows_its_tracking_page(client, demo):
    answer = client.post(f"/g/{token_of()}", data=FORM, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/t/")
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "反映进度" in page.text
    assert case_count() == 1


def test_form_sent_twice_makes_one_case(client, demo):
    first = client.post(f"/g/{token_of()}", data=FORM, follow_redirects=False)
    second = client.post(f"/g/{token_of()}", data=FORM, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]
    assert case_count() == 1


def test_a_second_report_from_the_same_cached_form_is_its_own_case(client, demo):
    client.post(f"/g/{token_of()}", data=FORM)
    client.post(f"/g/{token_of()}", data={**FORM, "description": "垃圾没人清"})
    assert case_count() == 2


def test_form_with_missing_answers_comes_back_with_them_said_and_kept(client, demo):
    answer = client.post(f"/g/{token_of()}", data={"description": "路灯坏了", "contact_phone": ""})
    assert answer.status_code == 422
    assert "请选择问题类别。" in answer.text and "请填写手机号" in answer.text
    assert ">路灯坏了</textarea>" in answer.text
    assert case_count() == 0


def test_form_with_a_bad_phone_says_so_by_the_phone_field(client, demo):
    answer = client.post(f"/g/{token_of()}", data={**FORM, "contact_phone": "12"})
    assert answer.status_code == 422 and "电话号码无效" in answer.text


def test_form_in_helper_mode_stores_on_behalf_of(client, demo):
    client.post(f"/g/{token_of()}", data={**FORM, "relative_name": "王秀英", "relative_relation": "母亲",
                                          "relative_phone": "13800001111", "relative_call": "relative"})
    with session_scope() as s:
        case = s.exec(select(Case)).one()
    assert (case.proxy_name, case.proxy_relation, case.proxy_phone, case.proxy_call) == (
        "王秀英", "母亲", "+8613800001111", "relative")


def test_helper_asking_to_call_the_relative_needs_their_phone(client, demo):
    answer = client.post(f"/g/{token_of()}", data={**FORM, "relative_name": "王秀英", "relative_relation": "母亲",
                                                   "relative_call": "both"})
    assert answer.status_code == 422 and "请填写家人的电话" in answer.text and " open>" in answer.text


def test_form_for_a_replaced_code_answers_410_with_the_office_phone(client, demo):
    old = token_of()
    with session_scope() as s:
        grid_service.rotate_token(s, code="BY-RML-GYL-01")
    answer = client.post(f"/g/{old}", data=FORM)
    assert answer.status_code == 410 and 'href="tel:+869438221234"' in answer.text
    assert case_count() == 0


def test_large_text_is_chosen_by_link_and_remembered(client, demo):
    page = client.get(f"/g/{token_of()}?text=large")
    assert '<html lang="zh-CN" class="large">' in page.text
    assert page.cookies.get("mashang_text") == "large"
    assert 'class="large"' in client.get(f"/g/{token_of()}").text
    assert 'class="large"' not in client.get(f"/g/{token_of()}?text=normal").text


def test_resident_html_is_gzipped(client, demo):
    answer = client.get(f"/g/{token_of()}", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip" and "Accept-Encoding" in answer.headers["vary"]


def test_privacy_page_in_chinese_and_english(client):
    zh = client.get("/privacy")
    assert zh.status_code == 200 and "隐私说明" in zh.text and "只用于处理这次反映" in zh.text
    en = client.get("/privacy?lang=en")
    assert 'lang="en"' in en.text and "Privacy notice" in en.text


def test_tracking_page_has_the_code_large_the_deadline_and_the_shareable_link(client, demo):
    answer = client.post("/api/v1/reports", json={"grid_token": token_of(), "category": "repairs",
                                                  "description": "路灯坏了", "contact_phone": "13912345678"}).json()
    code = answer["tracking_code"]
    html = client.get(f"/t/{code}").text
    assert f'id="tracking-code">{code[:5]}-{code[5:]}<' in html
    assert 'id="countdown"' in html and "<time datetime=" in html
    assert answer["track_url"] in html, "the link to save is the public one"
    assert "13912345678" not in html and "+8613912345678" not in html


def test_form_body_past_the_limit_is_refused_before_it_is_read(client, demo):
    answer = client.post(f"/g/{token_of()}", content=b"description=" + b"x" * 70_000,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and case_count() == 0


def test_form_post_that_is_not_a_form_is_refused(client, demo):
    answer = client.post(f"/g/{token_of()}", json=FORM)
    assert answer.status_code == 415 and case_count() == 0


def test_tracking_page_offers_the_community_office_phone_while_the_case_is_open(client, demo):
    answer = client.post("/api/v1/reports", json={"grid_token": token_of(), "category": "repairs",
                                                  "description": "路灯坏了", "contact_phone": "13912345678"}).json()
    code = answer["tracking_code"]
    with session_scope() as session:
        case = session.exec(select(Case).where(Case.tracking_code == code)).one()
        office = grid_service.describe(session, grid=grid_service.resolve_token(session, token=token_of())).office_phone
    assert office, "the demo grid's community has an office phone"

    html = client.get(f"/t/{code}").text
    assert re.search(rf'id="office-call" href="tel:{re.escape(office)}"', html)
    assert "phone" not in client.get(f"/api/v1/track/{code}").text, "the API keeps to no phone numbers at all"

    with session_scope() as session:
        case = session.get(Case, case.id)
        case.status = "closed"
        session.add(case)
    assert 'id="office-call"' not in client.get(f"/t/{code}").text
