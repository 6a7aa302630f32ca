"""The resident's page in a real Chromium at 360x740: reporting, offline drafts, helper mode, sizes, axe, budgets."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import select

from app.db import session_scope
from app.grids import service as grid_service
from app.reports.models import Attachment, Case
from tests.browser.conftest import LAUNCH_ARGS, PHONE, WECHAT_UA
from tests.conftest import CHROMIUM, missing
from tests.reports.helpers import token_of

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
NOT_SENT = "未发送"
TIMEOUT_MS = 10_000


@pytest.fixture
def grid_url(live_server: str, demo: None) -> str:
    return f"{live_server}/g/{token_of()}"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 3000x2000 JPEG, larger than the 1600 px the page shrinks photos to."""
    image = Image.new("RGB", (3000, 2000), (90, 140, 200))
    image.paste((200, 80, 60), (400, 300, 1800, 1500))
    path = tmp_path / "kerb.jpg"
    image.save(path, "JPEG", quality=80)
    return path


@pytest.fixture
def media_browser(browser) -> Iterator:
    """A second Chromium whose microphone is Chromium's fake device, granted without asking."""
    fake = browser.browser_type.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS + FAKE_MEDIA)
    yield fake
    fake.close()


def no_dialogs(page) -> None:
    """The page must never open alert/confirm/prompt: fail the test if it does."""
    def refuse(dialog) -> None:
        dialog.dismiss()
        pytest.fail(f"the page opened a {dialog.type} dialog: {dialog.message}")
    page.on("dialog", refuse)


def cases() -> list[Case]:
    with session_scope() as s:
        return list(s.exec(select(Case)).all())


def attachments_of(case: Case) -> list[Attachment]:
    with session_scope() as s:
        return list(s.exec(select(Attachment).where(Attachment.case_id == case.id)).all())


def fill_basic_report(page, *, description: str = "小区门口的路沿太高，轮椅过不去", phone: str = "13912345678") -> None:
    page.locator("label[for=category-repairs]").click()
    if description:
        page.fill("#description", description)
    page.fill("#contact_phone", phone)


def submit_and_wait_for_tracking(page) -> str:
    page.click("#submit")
    page.wait_for_url(re.compile(r"/t/[A-Z0-9]{10}$"), timeout=TIMEOUT_MS)
    return page.url.rsplit("/", 1)[1]


def wait_until_page_is_kept_offline(page) -> None:
    """The service worker is active and holds this very page (so it can be reloaded with no network)."""
    page.wait_for_function(
        """async () => {
            if (!navigator.serviceWorker.controller) { await navigator.serviceWorker.ready; }
            return !!(await caches.match(location.href));
        }""", timeout=TIMEOUT_MS, polling=200)


# --- Reporting ---


def test_full_report_with_photo_voice_and_location_reaches_the_tracking_page(media_browser, grid_url, photo):
    context = media_browser.new_context(**PHONE, permissions=["microphone", "geolocation"],
                                        geolocation={"latitude": 36.545, "longitude": 104.138, "accuracy": 12})
    page = context.new_page()
    no_dialogs(page)
    page.goto(grid_url)
    page.locator("label[for=category-roads]").click()
    page.fill("#description", "小区门口的路沿太高，轮椅过不去")
    page.set_input_files("#gallery-input", str(photo))
    page.locator("#photo-list img").wait_for()
    page.click("#voice-record")
    page.get_by_text("正在录音").wait_for()
    page.wait_for_timeout(1500)
    page.click("#voice-record")
    page.locator("#voice-play").wait_for()
    page.click("#location-add")
    page.get_by_text("已添加位置").wait_for()
    page.fill("#contact_phone", "139 1234 5678")
    code = submit_and_wait_for_tracking(page)

    assert page.locator("#tracking-code").inner_text() == f"{code[:5]}-{code[5:]}"
    (case,) = cases()
    assert case.tracking_code == code and case.category_code == "roads"
    assert (round(case.lat, 3), round(case.lng, 3)) == (36.545, 104.138)
    kinds = sorted(a.kind for a in attachments_of(case))
    assert kinds == ["photo", "voice"]
    stored = next(a for a in attachments_of(case) if a.kind == "photo")
    assert max(stored.width, stored.height) == 1600, "the phone shrinks photos to 1600 px before upload"
    context.close()


def test_voice_only_report_says_so_in_the_description(media_browser, grid_url):
    context = media_browser.new_context(**PHONE, permissions=["microphone"])
    page = context.new_page()
    page.goto(grid_url)
    page.locator("label[for=category-help]").click()
    page.click("#voice-record")
    page.wait_for_timeout(800)
    page.click("#voice-record")
    page.locator("#voice-play").wait_for()
    page.fill("#contact_phone", "13912345678")
    submit_and_wait_for_tracking(page)
    (case,) = cases()
    assert case.description == "（语音反映，请听录音）"
    assert [a.kind for a in attachments_of(case)] == ["voice"]
    context.close()


def test_tracking_page_shows_code_countdown_and_timeline(phone_page, grid_url):
    phone_page.goto(grid_url)
    fill_basic_report(phone_page)
    submit_and_wait_for_tracking(phone_page)
    countdown = phone_page.locator("#countdown")
    assert re.fullmatch(r"(29|30):\d\d", countdown.inner_text()), countdown.inner_text()
    first = countdown.inner_text()
    phone_page.wait_for_function(f"document.getElementById('countdown').textContent !== {first!r}", timeout=3000)
    assert phone_page.locator("#timeline li").count() >= 1
    assert "已收到您的反映" in phone_page.locator("#timeline").inner_text()
    code_size = phone_page.locator("#tracking-code").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert code_size >= 36
    assert phone_page.locator("#share-url").inner_text().endswith(phone_page.url.rsplit("/", 1)[1])


def test_helper_mode_stores_on_behalf_of(phone_page, grid_url):
    no_dialogs(phone_page)
    phone_page.goto(grid_url)
    fill_basic_report(phone_page, phone="13912345678")
    phone_page.click("#helper summary")
    phone_page.fill("#relative_name", "王秀英")
    phone_page.fill("#relative_relation", "母亲")
    phone_page.fill("#relative_phone", "0943-8221111")
    phone_page.locator("label[for=call-both]").click()
    submit_and_wait_for_tracking(phone_page)
    (case,) = cases()
    assert (case.proxy_name, case.proxy_relation, case.proxy_call) == ("王秀英", "母亲", "both")
    assert case.proxy_phone == "+869438221111" and case.contact_phone == "+8613912345678"


def test_missing_answers_are_said_in_the_page_not_in_a_dialog(phone_page, grid_url):
    no_dialogs(phone_page)
    phone_page.goto(grid_url)
    phone_page.click("#submit")
    assert phone_page.locator("#err-category").inner_text() == "请选择问题类别。"
    assert "录一段语音" in phone_page.locator("#err-description").inner_text()
    assert phone_page.locator("#err-contact_phone").is_visible()
    assert cases() == []


# --- Offline and flaky networks ---


def test_offline_report_is_kept_survives_a_reload_and_is_sent_exactly_once(phone_page, grid_url):
    context = phone_page.context
    phone_page.goto(grid_url)
    wait_until_page_is_kept_offline(phone_page)
    context.set_offline(True)
    fill_basic_report(phone_page, description="楼道灯坏了")
    phone_page.click("#submit")
    phone_page.get_by_text(NOT_SENT).wait_for()
    assert phone_page.locator("#queue-note").inner_text().startswith("现在没有网络")

    phone_page.reload()
    phone_page.get_by_text(NOT_SENT).wait_for()
    assert "楼道灯坏了" in phone_page.locator("#queue-list").inner_text()
    assert cases() == []

    context.set_offline(False)
    phone_page.locator("#queue-list [data-state=sent]").wait_for(timeout=TIMEOUT_MS)
    (case,) = cases()
    assert case.description == "楼道灯坏了"
    phone_page.get_by_role("link", name=re.compile("查看进度")).wait_for()
    # Every later trigger (a reload, the online event again) finds nothing left to send.
    phone_page.reload()
    phone_page.evaluate("window.dispatchEvent(new Event('online'))")
    phone_page.wait_for_timeout(500)
    assert len(cases()) == 1


def test_report_sent_when_the_answer_was_lost_is_not_sent_twice(phone_page, grid_url):
    """The server stored the report but the phone never heard back: the retry replays the same key."""
    lost = {"count": 0}

    def lose_first_answer(route) -> None:
        response = route.fetch()
        if lost["count"] == 0:
            lost["count"] += 1
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    phone_page.route("**/api/v1/reports", lose_first_answer)
    phone_page.goto(grid_url)
    fill_basic_report(phone_page)
    phone_page.click("#submit")
    phone_page.get_by_text(NOT_SENT).wait_for()
    assert len(cases()) == 1
    phone_page.get_by_role("button", name="现在重发").click()
    phone_page.locator("#queue-list [data-state=sent]").wait_for(timeout=TIMEOUT_MS)
    assert len(cases()) == 1


def test_draft_for_a_replaced_grid_code_says_so_and_offers_the_office_phone(phone_page, grid_url):
    phone_page.goto(grid_url)
    wait_until_page_is_kept_offline(phone_page)
    phone_page.context.set_offline(True)
    fill_basic_report(phone_page)
    phone_page.click("#submit")
    phone_page.get_by_text(NOT_SENT).wait_for()
    with session_scope() as s:
        grid_service.rotate_token(s, code="BY-RML-GYL-01")
    phone_page.context.set_offline(False)
    phone_page.get_by_text("二维码已经更换").wait_for(timeout=TIMEOUT_MS)
    assert phone_page.locator("#queue-list a[href='tel:+869438221234']").is_visible()
    assert cases() == []


def test_service_workers_blocked_still_reports(browser, grid_url):
    context = browser.new_context(**PHONE, service_workers="block")
    page = context.new_page()
    page.goto(grid_url)
    fill_basic_report(page)
    submit_and_wait_for_tracking(page)
    assert len(cases()) == 1
    context.close()


def test_without_javascript_the_form_still_reports(browser, grid_url):
    context = browser.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(grid_url)
    assert page.locator("#step-photo").is_hidden()
    fill_basic_report(page)
    submit_and_wait_for_tracking(page)
    assert page.locator("#tracking-code").is_visible()
    assert len(cases()) == 1
    context.close()


# --- WeChat, install prompt, missing secure-context APIs ---


def test_wechat_reports_and_never_shows_an_install_prompt(browser, grid_url):
    context = browser.new_context(**PHONE, user_agent=WECHAT_UA)
    page = context.new_page()
    page.goto(grid_url)
    page.evaluate("window.dispatchEvent(new Event('beforeinstallprompt', {cancelable: true}))")
    assert page.locator("#install").is_hidden()
    fill_basic_report(page)
    submit_and_wait_for_tracking(page)
    assert len(cases()) == 1
    context.close()


def test_install_button_appears_only_when_the_browser_offers_install(phone_page, grid_url):
    phone_page.goto(grid_url)
    assert phone_page.locator("#install").is_hidden()
    phone_page.evaluate("window.dispatchEvent(new Event('beforeinstallprompt', {cancelable: true}))")
    assert phone_page.locator("#install-button").is_visible()


HIDE_SECURE_APIS = """
    Object.defineProperty(window, 'isSecureContext', {get: () => false});
    delete Navigator.prototype.mediaDevices;
    delete Navigator.prototype.geolocation;
    delete Navigator.prototype.serviceWorker;
"""


def test_without_a_secure_context_camera_voice_and_location_hide_and_reporting_works(browser, grid_url, photo):
    context = browser.new_context(**PHONE)
    context.add_init_script(HIDE_SECURE_APIS)
    page = context.new_page()
    page.goto(grid_url)
    assert page.locator("#step-photo").is_visible() and page.locator("#photo-gallery").is_visible()
    assert page.locator("#photo-camera").is_hidden()
    assert page.locator("#step-voice").is_hidden() and page.locator("#step-location").is_hidden()
    fill_basic_report(page)
    page.set_input_files("#gallery-input", str(photo))
    page.locator("#photo-list img").wait_for()
    submit_and_wait_for_tracking(page)
    (case,) = cases()
    assert [a.kind for a in attachments_of(case)] == ["photo"]
    context.close()


# --- Elderly-friendly sizes ---

TARGETS = """() => {
    const out = [];
    for (const node of document.querySelectorAll('a[href], button, summary, input, textarea, select, label.tile')) {
        if (node.matches('input.sr')) continue;   // drawn by its label.tile, measured there
        const box = node.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || getComputedStyle(node).visibility === 'hidden') continue;
        const name = (node.id || node.className || node.tagName) + ' ' + (node.textContent || '').trim().slice(0, 20);
        out.push({what: name, width: box.width, height: box.height});
    }
    return out;
}"""
MAIN_BUTTONS = "#submit, .tile, #photo-camera, #photo-gallery, #voice-record, #location-add, #helper summary, a.call"


def measured(page) -> tuple[float, list[dict], list[float]]:
    base = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    main = page.locator(MAIN_BUTTONS).evaluate_all(
        "nodes => nodes.filter(n => n.offsetParent).map(n => n.getBoundingClientRect().height)")
    return base, page.evaluate(TARGETS), main


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_text_and_targets_are_large_enough(phone_page, grid_url, large, lang):
    phone_page.goto(f"{grid_url}?lang={lang}")
    phone_page.click("#helper summary")  # open helper mode, so its fields are measured too
    if large:
        phone_page.click("#text-switch")
    base, targets, main = measured(phone_page)
    assert base >= (24 if large else 18)
    assert main and min(main) >= 60, main
    small = [t for t in targets if t["width"] < 44 or t["height"] < 44]
    assert not small, small
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "nothing may overflow the phone's width"


def test_large_text_choice_is_remembered(phone_page, grid_url):
    phone_page.goto(grid_url)
    phone_page.click("#text-switch")
    assert phone_page.locator("#text-switch").inner_text() == "标准字"
    phone_page.reload()
    assert phone_page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 24
    assert phone_page.locator("html.large").count() == 1


def test_english_switch(phone_page, grid_url):
    phone_page.goto(grid_url)
    assert phone_page.locator("html").get_attribute("lang") == "zh-CN"
    phone_page.get_by_role("link", name="English").click()
    assert phone_page.locator("html").get_attribute("lang") == "en"
    assert phone_page.get_by_role("button", name="Send the report").is_visible()


# --- Accessibility (axe-core) ---


def axe_violations(page) -> list[dict]:
    if not AXE.exists():
        missing(f"axe-core is not installed at {AXE} (npm ci --omit=optional)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("large", [False, True], ids=["normal", "large"])
def test_resident_page_has_no_serious_axe_violations(phone_page, grid_url, large):
    phone_page.goto(grid_url + ("?text=large" if large else ""))
    phone_page.click("#helper summary")
    assert axe_violations(phone_page) == []


def test_tracking_page_has_no_serious_axe_violations(phone_page, grid_url):
    phone_page.goto(grid_url)
    fill_basic_report(phone_page)
    submit_and_wait_for_tracking(phone_page)
    assert axe_violations(phone_page) == []


# --- Budgets ---

ASIDE = re.compile(r"(manifest\.webmanifest|\.png|/sw\.js)(\?|$)")


def test_first_load_stays_within_the_budgets(browser, grid_url):
    context = browser.new_context(**PHONE, service_workers="block")
    page = context.new_page()
    requests: list = []
    page.on("requestfinished", lambda request: requests.append(request))
    page.goto(grid_url, wait_until="load")
    before_load = [r for r in requests if not ASIDE.search(r.url)]
    origin = grid_url.split("/g/")[0]
    assert [r.url for r in requests if not r.url.startswith(origin)] == [], "nothing from another origin"
    assert len(before_load) <= 10, [r.url for r in before_load]
    sizes = {r.url: r.sizes()["responseBodySize"] for r in before_load}
    script_bytes = sum(size for url, size in sizes.items() if url.endswith(".js"))
    assert script_bytes <= 50 * 1024, sizes
    assert sum(sizes.values()) <= 100 * 1024, sizes
    context.close()


def test_photo_is_shrunk_to_1600_px_on_the_phone(phone_page, grid_url, photo):
    phone_page.goto(grid_url)
    phone_page.set_input_files("#gallery-input", str(photo))
    phone_page.locator("#photo-list img").wait_for()
    natural = phone_page.locator("#photo-list img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert natural == [1600, 1067]
