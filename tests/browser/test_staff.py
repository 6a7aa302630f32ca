"""The staff consoles in a phone-sized Chromium: taps from a page to "contacted", reassigning, countdowns, axe."""

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from app.config import DEMO_PASSWORD
from app.db import session_scope
from app.escalation.models import CaseEscalation
from app.grids import service as grid_service
from app.grids.models import Grid
from app.paging.models import PushSubscription
from app.people.models import Person
from app.reports.models import Case
from tests.browser.conftest import PHONE, WECHAT_UA
from tests.conftest import missing
from tests.escalation.harness import Timeline

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WORKER, DISPATCHER = "13800000101", "13800000011"
# Any valid P-256 public key in base64url (65 bytes); a browser subscribes with it.
VAPID_PUBLIC_KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U"


class Taps:
    """Taps the way a thumb does, and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator) -> None:
        locator.tap()
        self.count += 1


def _login(page, base: str, phone: str) -> None:
    """Log the page's browser in through the API (the form itself is tested once, below)."""
    answer = page.request.post(f"{base}/api/v1/auth/login", data={"phone": phone, "password": DEMO_PASSWORD})
    assert answer.ok


def _case(code: str) -> Case:
    with session_scope() as s:
        return s.exec(select(Case).where(Case.tracking_code == code)).one()


def test_worker_logs_in_and_reaches_contacted_in_two_taps_from_the_inbox(phone_page, live_server, demo):
    tl = Timeline()
    code = tl.report(contact_name="王小明")
    tl.at(0)
    page = phone_page
    page.goto(f"{live_server}/w")
    page.get_by_label("手机号").fill(WORKER)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").tap()
    card = page.locator(f'a.case[href="/w/c/{code}"]')
    card.wait_for()
    assert "13912345678" not in page.content() and "王小明" not in page.content()
    taps = Taps()
    taps(card)
    call = page.locator('a[href="tel:+8613912345678"]')
    call.wait_for()
    assert "王小明" in call.inner_text() and "139 1234 5678" in call.inner_text()
    taps(page.get_by_role("button", name="已联系居民"))
    page.locator("#contacted-note").wait_for()
    assert taps.count == 2
    assert _case(code).status == "contacted" and _case(code).contacted_on_time


def test_from_the_ack_link_contacted_is_one_tap(phone_page, live_server, demo):
    tl = Timeline()
    code = tl.report()
    ack_url = next(p["ack_url"] for p in tl.at(0) if p["recipient"]["name"] == "张伟")
    page = phone_page
    page.goto(live_server + ack_url[ack_url.index("/a/"):])
    taps = Taps()
    taps(page.get_by_role("button", name="已联系居民"))
    page.get_by_text("网格员已联系").wait_for()
    assert taps.count == 1 and _case(code).status == "contacted"


def test_countdown_turns_red_in_the_last_ten_minutes_and_solid_once_overdue(phone_page, live_server, demo):
    tl = Timeline()
    late = tl.report()
    tl.at(5)
    soon = tl.report()
    tl.at(21)
    fresh = tl.report()
    tl.at(31)
    page = phone_page
    _login(page, live_server, WORKER)
    page.goto(f"{live_server}/w")
    page.locator(f'a.case[href="/w/c/{fresh}"]').wait_for()
    classes = [page.locator(f'a.case[href="/w/c/{c}"] .due').get_attribute("class") for c in (late, soon, fresh)]
    assert classes == ["due overdue", "due urgent", "due"]
    assert "已超时" in page.locator(f'a.case[href="/w/c/{late}"] .due').inner_text()
    order = page.locator("a.case").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert order == [f"/w/c/{late}", f"/w/c/{soon}", f"/w/c/{fresh}"]


def test_dispatcher_reassigns_a_case_from_the_board(phone_page, live_server, demo):
    tl = Timeline()
    code = tl.report()
    tl.at(0)
    page = phone_page
    _login(page, live_server, DISPATCHER)
    page.goto(f"{live_server}/d")
    card = page.locator(f'article[data-case="{code}"]')
    card.get_by_text("转派或备注").tap()
    card.get_by_label("转派给其他网格员").select_option(label="陈静 · 公园路社区第三网格")
    card.get_by_role("button", name="转派").tap()
    page.get_by_text("已转派给 陈静，并已通知。").wait_for()
    page.locator(f'article[data-case="{code}"] .tag', has_text="负责人：陈静").wait_for()
    with session_scope() as s:
        chen = s.exec(select(Person).where(Person.phone == "+8613800000103")).one()
        assert s.get(CaseEscalation, _case(code).id).assigned_person_id == chen.id


def test_dispatcher_adds_a_note_from_the_board(phone_page, live_server, demo):
    tl = Timeline()
    code = tl.report()
    page = phone_page
    _login(page, live_server, DISPATCHER)
    page.goto(f"{live_server}/d")
    card = page.locator(f'article[data-case="{code}"]')
    card.get_by_text("转派或备注").tap()
    card.get_by_label("添加备注（仅工作人员可见）").fill("已通知物业")
    card.get_by_role("button", name="保存备注").tap()
    card.locator("ul.notes li", has_text="已通知物业").wait_for()


def _push_button_shown(browser, base: str, *, user_agent: str | None, key_status: int) -> bool:
    context = browser.new_context(**PHONE, **({"user_agent": user_agent} if user_agent else {}))
    try:
        page = context.new_page()
        body = {"public_key": VAPID_PUBLIC_KEY} if key_status == 200 else {"error": {"code": "not_found"}}
        page.route("**/api/v1/push/key", lambda route: route.fulfill(
            status=key_status, content_type="application/json", body=json.dumps(body)))
        _login(page, base, WORKER)
        page.goto(f"{base}/w")
        page.get_by_role("heading", name="我的待办").wait_for()
        page.wait_for_load_state("networkidle")
        return page.locator("#push-button").is_visible()
    finally:
        context.close()


def test_push_opt_in_is_offered_only_where_it_can_work(browser, live_server, demo):
    assert _push_button_shown(browser, live_server, user_agent=None, key_status=200)
    assert not _push_button_shown(browser, live_server, user_agent=None, key_status=404)
    assert not _push_button_shown(browser, live_server, user_agent=WECHAT_UA, key_status=200)


def _axe(page) -> list[dict]:
    page.evaluate(AXE.read_text())
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def test_inbox_case_page_and_board_have_no_serious_accessibility_violations(browser, live_server, demo):
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (npm install)")
    tl = Timeline()
    code = tl.report(contact_name="王小明", location={"lat": 36.5457, "lng": 104.1389, "accuracy_m": 12})
    tl.report("BY-RML-GYL-03")
    tl.at(25)
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        found = {}
        for phone, path, ready in ((WORKER, "/w", "a.case"), (WORKER, f"/w/c/{code}", "#contacted"),
                                   (DISPATCHER, "/d", "article.board-case")):
            _login(page, live_server, phone)
            page.goto(live_server + path)
            page.locator(ready).first.wait_for()
            found[path] = _axe(page)
        assert found == {"/w": [], f"/w/c/{code}": [], "/d": []}
    finally:
        context.close()


SMALL_TARGETS = """() => Array.from(document.querySelectorAll('a, button, input, select, textarea, summary, audio'))
  .map(el => ({el, box: el.getBoundingClientRect()}))
  .filter(({box}) => box.width > 0 && box.height > 0)
  .filter(({el, box}) => box.width < 44 || box.height < 44 || (el.classList.contains('big') && box.height < 60))
  .map(({el, box}) => `${el.tagName} ${el.id || el.className} ${Math.round(box.width)}x${Math.round(box.height)}`)"""


def test_every_target_is_at_least_44px_and_main_buttons_60px(browser, live_server, demo):
    tl = Timeline()
    code = tl.report(location={"lat": 36.5457, "lng": 104.1389})
    tl.at(0)
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        small = {}
        for phone, path, ready in ((WORKER, "/w", "a.case"), (WORKER, f"/w/c/{code}", "#contacted"),
                                   (DISPATCHER, "/d", "article.board-case")):
            _login(page, live_server, phone)
            page.goto(live_server + path)
            page.locator(ready).first.wait_for()
            page.locator("details").evaluate_all("els => els.forEach(e => e.open = true)")
            small[path] = page.evaluate(SMALL_TARGETS)
        assert small == {"/w": [], f"/w/c/{code}": [], "/d": []}
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 18
    finally:
        context.close()


def test_case_page_shows_the_residents_photos_and_voice_note(phone_page, live_server, demo):
    page = phone_page
    with session_scope() as s:
        grid = s.exec(select(Grid).where(Grid.code == "BY-RML-GYL-01")).one()
        token = grid_service.current_token(s, grid_id=grid.id)
    report = page.request.post(f"{live_server}/api/v1/reports", data={
        "grid_token": token, "category": "repairs", "description": "台阶太高", "contact_phone": "13912345678"}).json()
    photo = io.BytesIO()
    Image.new("RGB", (80, 60), (200, 30, 30)).save(photo, "JPEG")
    voice = b"OggS\x00\x02" + bytes(2000)
    for name, data, kind in (("p.jpg", photo.getvalue(), "image/jpeg"), ("v.ogg", voice, "audio/ogg")):
        answer = page.request.post(f"{live_server}/api/v1/reports/{report['tracking_code']}/attachments",
                                   headers={"X-Upload-Token": report["upload_token"]},
                                   multipart={"file": {"name": name, "mimeType": kind, "buffer": data}})
        assert answer.status == 201, answer.text()
    _login(page, live_server, WORKER)
    page.goto(f"{live_server}/w/c/{report['tracking_code']}")
    image = page.get_by_role("img", name="居民上传的照片 1")
    image.wait_for()
    page.wait_for_function("() => document.querySelector('.photos img').naturalWidth > 0")
    assert "/attachments/" in page.locator("audio").get_attribute("src")


FAKE_PUSH = """PushManager.prototype.getSubscription = () => Promise.resolve(null);
PushManager.prototype.subscribe = function (options) {
  window.keyLength = options.applicationServerKey.length;
  return Promise.resolve({toJSON: () => ({endpoint: 'https://push.invalid/subscription/1', expirationTime: null,
                                          keys: {p256dh: 'BFakeP256dh', auth: 'FakeAuth'}})});
};"""


def test_turning_on_alerts_registers_the_service_worker_and_saves_the_subscription(phone_page, live_server, demo):
    page = phone_page
    page.add_init_script(FAKE_PUSH)  # a headless browser has no push service to subscribe with
    page.route("**/api/v1/push/key", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"public_key": VAPID_PUBLIC_KEY})))
    _login(page, live_server, WORKER)
    page.goto(f"{live_server}/w")
    page.locator("#push-button").tap()
    page.get_by_text("新案件提醒已开启。").wait_for()
    assert page.evaluate("window.keyLength") == 65
    assert page.evaluate("navigator.serviceWorker.getRegistration('/w').then(r => Boolean(r && r.active))")
    with session_scope() as s:
        subscription = s.exec(select(PushSubscription)).one()
    assert subscription.endpoint == "https://push.invalid/subscription/1" and subscription.auth == "FakeAuth"
    assert subscription.person_id == s.exec(select(Person.id).where(Person.phone == f"+86{WORKER}")).one()
