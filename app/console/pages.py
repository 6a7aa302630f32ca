"""The consoles' pages: /w (inbox and case page) and /d (board), their static files and the push service worker."""

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.config import get_settings
from app.errors import NotFound
from app.i18n import CATALOG, t
from app.web import page_lang, render

router = APIRouter(include_in_schema=False)

STAFF_DIR = Path(__file__).resolve().parents[2] / "pwa" / "staff"
ASSETS = {"staff.css": "text/css", "common.js": "text/javascript", "worker.js": "text/javascript",
          "board.js": "text/javascript"}
# Only this origin: no CDN, no map tiles, no fonts from elsewhere. Photos and voice notes come from the API.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SHARED_KEYS = ("app_name", "switch_language", "call_reporter", "call_relative", "contacted_button", "ack_button",
               "acked_note", "forbidden", "not_found", "case_not_found")


@lru_cache(maxsize=32)
def _digest(name: str, mtime_ns: int) -> str:
    return hashlib.sha256((STAFF_DIR / name).read_bytes()).hexdigest()[:10]


def asset_url(name: str) -> str:
    """A static file's URL with its content hash, so it can be cached for a year and still update."""
    return f"/staff/{name}?v={_digest(name, (STAFF_DIR / name).stat().st_mtime_ns)}"


def strings(lang: str) -> dict[str, str]:
    """The catalogue entries the consoles' scripts use, in the page's language."""
    keys = [k for k in CATALOG if k.startswith("console_")] + list(SHARED_KEYS)
    return {key: t(key, lang) for key in keys}


def _page(request: Request, *, view: str, script: str, title_key: str, code: str | None = None) -> HTMLResponse:
    lang = page_lang(request)
    data = {"view": view, "code": code, "lang": lang, "tz": get_settings().timezone, "strings": strings(lang)}
    response = render(request, "console.html", title_key=title_key, data=data, css=asset_url("staff.css"),
                      scripts=[asset_url("common.js"), asset_url(script)])
    response.headers.update({"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                             "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"})
    return response


@router.get("/w", response_class=HTMLResponse)
def worker_inbox(request: Request) -> HTMLResponse:
    return _page(request, view="inbox", script="worker.js", title_key="console_worker_title")


@router.get("/w/c/{tracking_code}", response_class=HTMLResponse)
def worker_case(tracking_code: str, request: Request) -> HTMLResponse:
    return _page(request, view="case", script="worker.js", title_key="console_worker_title", code=tracking_code[:32])


@router.get("/d", response_class=HTMLResponse)
def dispatcher_board(request: Request) -> HTMLResponse:
    return _page(request, view="board", script="board.js", title_key="console_board_title")


@router.get("/w/sw.js")
def service_worker() -> FileResponse:
    """Scoped to the worker's pages (/w and /w/…); never cached, so a fix reaches every phone."""
    return FileResponse(STAFF_DIR / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/w"})


@router.get("/staff/{name}")
def staff_asset(name: str, request: Request) -> Response:
    if name not in ASSETS:
        raise NotFound("not_found")
    current = request.query_params.get("v") == _digest(name, (STAFF_DIR / name).stat().st_mtime_ns)
    cache = "public, max-age=31536000, immutable" if current else "no-cache"
    return FileResponse(STAFF_DIR / name, media_type=ASSETS[name],
                        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})
