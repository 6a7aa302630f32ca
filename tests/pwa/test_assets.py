"""The resident PWA's files: headers, the service worker, the manifest and icons, and the byte budgets."""

import gzip
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from app.i18n import CATALOG
from app.pwa import assets
from app.pwa.pages import GRID_SCRIPT_STRINGS, TRACK_SCRIPT_STRINGS
from tests.reports.helpers import token_of

REPO = Path(__file__).resolve().parents[2]
JS_BUDGET = 50 * 1024
TOTAL_BUDGET = 100 * 1024


def test_assets_are_versioned_long_cached_and_gzipped(client):
    url = assets.asset_url("app.js")
    assert re.fullmatch(r"/pwa/r/[0-9a-f]{12}/app\.js", url)
    answer = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.text == (assets.PWA_DIR / "app.js").read_text()


def test_an_old_version_gets_todays_file_without_the_long_cache(client):
    answer = client.get("/pwa/r/000000000000/app.js")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-cache"


def test_unknown_asset_is_404(client):
    assert client.get(assets.asset_url("nope.js")).status_code == 404


def test_asset_revalidates_with_etag(client):
    first = client.get(assets.asset_url("resident.css"))
    again = client.get(assets.asset_url("resident.css"), headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_service_worker_is_served_uncached_and_may_control_the_resident_pages(client):
    answer = client.get(assets.service_worker_url())
    assert answer.status_code == 200
    assert answer.headers["service-worker-allowed"] == "/"
    assert "no-cache" in answer.headers["cache-control"]
    assert answer.headers["content-type"].startswith("text/javascript")
    assert client.get(assets.asset_url("sw.js")).status_code == 404, "only one address for the worker"


def test_manifest_has_its_type_and_192_and_512_px_icons(client):
    answer = client.get(assets.asset_url("manifest.webmanifest"))
    assert answer.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(answer.content)
    assert manifest["lang"] == "zh-CN" and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        png = client.get(assets.asset_url(icon["src"]))
        assert png.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(png.content)).size
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert {192, 512} <= sizes


def test_apple_touch_icon_is_an_opaque_180_px_square(client):
    png = client.get(assets.asset_url("apple-touch-icon.png"))
    image = Image.open(io.BytesIO(png.content)).convert("RGBA")
    assert image.size == (180, 180)
    assert image.getextrema()[3] == (255, 255), "iOS shows transparency as black"


def _first_load(client, path: str) -> dict[str, bytes]:
    """The page and every script and stylesheet it loads before it is usable, as sent (gzip)."""
    page = client.get(path, headers={"Accept-Encoding": "gzip"})
    loaded = {path: gzip.compress(page.content)}
    pending = re.findall(r'(?:src|href)="(/pwa/r/[^"]+\.(?:js|css))"', page.text)
    while pending:
        url = pending.pop()
        if url in loaded:
            continue
        body = client.get(url).content
        loaded[url] = gzip.compress(body)
        base = url.rsplit("/", 1)[0]
        pending += [f"{base}/{name}" for name in re.findall(r"from '\./([\w.-]+\.js)'", body.decode())]
    return loaded


def test_resident_page_first_load_is_within_the_byte_budgets(client, demo):
    loaded = _first_load(client, f"/g/{token_of()}")
    scripts = sum(len(body) for url, body in loaded.items() if url.endswith(".js"))
    total = sum(len(body) for body in loaded.values())
    assert scripts <= JS_BUDGET, f"{scripts} bytes of gzipped JavaScript"
    assert total <= TOTAL_BUDGET, f"{total} bytes in all"
    assert len(loaded) <= 10


def test_pages_load_nothing_from_another_origin(client, demo):
    code = client.post("/api/v1/reports", json={"grid_token": token_of(), "category": "repairs",
                                                "description": "路灯坏了", "contact_phone": "13912345678"})
    for path in (f"/g/{token_of()}", f"/t/{code.json()['tracking_code']}", "/privacy"):
        html = client.get(path).text
        external = re.findall(r'(?:src|href|action)="((?:https?:)?//[^"]*)"', html)
        assert external == [], path
    for path in assets.PWA_DIR.glob("*.[jc]s*"):
        assert not re.search(r"https?://", path.read_text()), path.name


def test_every_string_a_script_asks_for_is_in_the_page_and_the_catalogue():
    rendered = set(GRID_SCRIPT_STRINGS) | set(TRACK_SCRIPT_STRINGS)
    assert rendered <= set(CATALOG)
    for path in assets.PWA_DIR.glob("*.js"):
        asked = set(re.findall(r"\bt\('(\w+)'", path.read_text()))
        assert asked <= rendered, (path.name, asked - rendered)


@pytest.mark.parametrize("folder", ["app", "pwa"])
def test_no_todo_markers(folder):
    marked = [str(p) for p in (REPO / folder).rglob("*")
              if p.is_file() and p.suffix in {".py", ".js", ".css", ".html", ".webmanifest"}
              and re.search(r"\b(TODO|FIXME|XXX)\b", p.read_text(errors="ignore"))]
    assert marked == []


def test_scripts_avoid_syntax_old_in_app_browsers_lack():
    for path in assets.PWA_DIR.glob("*.js"):
        source = path.read_text()
        assert not re.search(r"^\s*await\b", source, re.M), f"{path.name}: top-level await"
        assert "??=" not in source and "||=" not in source, path.name
        assert not re.search(r"\bstatic\s*\{", source), path.name


def test_every_file_the_service_worker_precaches_exists():
    """One missing file fails the worker's whole install (cache.addAll is all or nothing)."""
    source = (assets.PWA_DIR / "sw.js").read_text()
    shell = re.search(r"const SHELL = \[([^\]]*)\]", source).group(1)
    names = re.findall(r"'([\w.-]+)'", shell)
    assert names and set(names) <= set(assets.bundle()[1]), names
