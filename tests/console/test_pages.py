"""The consoles' pages: a light shell in Chinese or English, strings from the catalogue, nothing from elsewhere."""

import json
import re
from pathlib import Path

import pytest

from app.console.pages import STAFF_DIR, asset_url
from app.i18n import t

PAGES = ["/w", "/w/c/ABCDE23456", "/d"]


def _data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="console-data">(.*?)</script>', html, re.S)[1])


@pytest.mark.parametrize("path", PAGES)
def test_console_pages_are_chinese_first_and_carry_their_strings(client, path):
    page = client.get(path)
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text
    data = _data(page.text)
    assert data["lang"] == "zh" and data["strings"]["contacted_button"] == t("contacted_button", "zh")
    assert data["tz"] == "Asia/Shanghai"


def test_english_switch_is_remembered(client):
    page = client.get("/w?lang=en")
    assert 'lang="en"' in page.text and _data(page.text)["strings"]["console_worker_title"] == "My cases"
    assert 'lang="en"' in client.get("/d").text


def test_case_page_knows_its_tracking_code(client):
    assert _data(client.get("/w/c/ABCDE23456").text)["code"] == "ABCDE23456"


def test_pages_allow_only_this_origin(client):
    page = client.get("/w")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in csp
    assert page.headers["cache-control"] == "no-cache"


def test_no_external_origin_in_the_shell_or_the_static_files(client):
    texts = [client.get(p).text for p in PAGES] + [f.read_text() for f in Path(STAFF_DIR).iterdir()]
    for text in texts:
        text = text.replace('"http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
        assert not re.search(r"(?<![\w.])(https?:)?//[a-z0-9-]+\.[a-z]", text, re.I), text[:200]


def test_static_files_are_cached_by_content_hash(client):
    url = asset_url("worker.js")
    answer = client.get(url)
    assert answer.status_code == 200 and "javascript" in answer.headers["content-type"]
    assert "immutable" in answer.headers["cache-control"]
    assert client.get("/staff/worker.js?v=old").headers["cache-control"] == "no-cache"
    assert client.get("/staff/../app/config.py").status_code == 404
    assert client.get("/staff/sw.js").status_code == 404


def test_the_push_service_worker_is_served_uncached_from_the_worker_scope(client):
    answer = client.get("/w/sw.js")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-cache"
    assert "showNotification" in answer.text


def test_base_font_is_at_least_18px_and_main_buttons_60px():
    css = (Path(STAFF_DIR) / "staff.css").read_text()
    assert int(re.search(r"html \{ font-size: (\d+)px", css)[1]) >= 18
    assert int(re.search(r"\.big \{[^}]*min-height: (\d+)px", css)[1]) >= 60
