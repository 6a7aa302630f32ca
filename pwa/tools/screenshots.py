"""Screenshots of the resident pages at 360x740 for the README, into docs/screenshots/.

Run from the repository root: `.venv/bin/python pwa/tools/screenshots.py`. Starts `mashang serve` on a
temporary database with the demo city and drives Debian's Chromium with Playwright. The PNGs are reduced
to a 256-colour palette to keep them small.
"""

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from common import mashang_server, prepare_database, server_env  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}


def save(page, name: str) -> None:
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    path = OUT / name
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, "PNG", optimize=True)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mashang-shots-") as tmp, sync_playwright() as playwright:
        workdir = Path(tmp)
        env = server_env(f"sqlite:///{workdir / 'mashang.db'}", workdir=workdir)
        token = prepare_database(env, workdir=workdir)
        server = mashang_server(env, workdir=workdir)
        server.env = {**env, "MASHANG_PUBLIC_URL": server.url}
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        with server.start():
            page = browser.new_context(**PHONE).new_page()
            page.goto(f"{server.url}/g/{token}")
            save(page, "resident.png")

            page.locator("label[for=category-roads]").click()
            page.fill("#description", "小区门口的路沿太高，轮椅过不去")
            page.fill("#contact_phone", "139 1234 5678")
            page.click("#helper summary")
            page.fill("#relative_name", "王秀英")
            page.fill("#relative_relation", "母亲")
            page.fill("#relative_phone", "0943-8221111")
            page.locator("label[for=call-both]").click()
            page.locator("#helper").evaluate("e => e.scrollIntoView({block: 'start'})")
            save(page, "helper.png")

            page.click("#submit")
            page.wait_for_url("**/t/*")
            page.wait_for_timeout(1200)
            save(page, "tracking.png")

            offline = browser.new_context(**PHONE, service_workers="block")
            page = offline.new_page()
            page.goto(f"{server.url}/g/{token}?text=large")
            offline.set_offline(True)
            page.locator("label[for=category-sanitation]").click()
            page.fill("#description", "楼道里的垃圾三天没人清了")
            page.fill("#contact_phone", "139 1234 5678")
            page.click("#submit")
            page.locator("#queue-list li").wait_for()
            page.evaluate("window.scrollTo(0, 0)")
            page.locator("#queue").evaluate("e => e.scrollIntoView({block: 'start'})")
            save(page, "offline-large-text.png")
        browser.close()


if __name__ == "__main__":
    main()
