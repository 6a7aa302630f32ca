"""Browser fixtures: the app served on a free loopback port, and Debian's Chromium driven by Playwright."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from tests.conftest import CHROMIUM, missing

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 12; M2012K11AC Build/SKQ1.211006.001; wv) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 "
             "MMWEBSDK/20230303 MMWEBID/1234 MicroMessenger/8.0.34.2340(0x2800225B) WeChat/arm64 Weixin "
             "NetType/WIFI Language/zh_CN ABI/arm64")


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """Pages are the same on both databases; the API tests cover Postgres, the browser runs on SQLite."""
    return request.param


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app on http://127.0.0.1:<port>, with MASHANG_PUBLIC_URL pointing at it."""
    from app.config import get_settings
    from app.main import create_app

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MASHANG_PUBLIC_URL", base)
    monkeypatch.setenv("MASHANG_PORT", str(port))
    get_settings.cache_clear()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest):
    """Chromium for one test module. Playwright's sync API marks its event loop as running in this thread until
    it is stopped, and every later test that calls asyncio.run() would fail: so it stops with the module."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def phone_page(browser):
    """A page in a 360x740 phone viewport."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    yield page
    context.close()
