"""What every resident page shares: the text size, the data its scripts read, and compressed HTML.

The helpers are Jinja globals so that a template rendered by another router (the tracking page) gets
them too; importing this module registers them.
"""

import json
from collections.abc import Iterable

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from app.config import get_settings
from app.i18n import t
from app.pwa import assets
from app.web import render, templates

TEXT_COOKIE = "mashang_text"
MIN_GZIP_BYTES = 1024

# The strings each page's script needs, in the page's language (the catalogue is app/i18n.py).
GRID_SCRIPT_STRINGS = (
    "photo_remove", "photo_limit", "photo_preparing", "photo_failed", "voice_record", "voice_stop", "voice_play",
    "voice_pause", "voice_rerecord", "voice_delete", "voice_recording", "voice_ready", "voice_denied",
    "location_getting", "location_added", "location_failed", "submit_report", "submitting", "uploading",
    "form_has_errors", "need_category", "need_description", "need_phone", "need_relative", "need_relative_phone",
    "queue_not_sent", "queue_offline_saved", "queue_sending", "queue_retry", "queue_delete", "queue_delete_confirm",
    "queue_saved_at", "queue_sent", "queue_uploads_pending", "queue_view", "queue_replaced", "queue_failed",
    "queue_no_storage", "attachment_dropped", "office_phone_label", "text_large", "text_normal", "invalid_phone",
)
TRACK_SCRIPT_STRINGS = ("countdown_label", "countdown_overdue", "contacted_label", "link_copied", "text_large",
                        "text_normal", "status_open", "status_contacted", "status_resolved", "status_closed")


def large_text(request: Request) -> bool:
    """Large text if chosen on this request (?text=large) or remembered in the cookie."""
    chosen = request.query_params.get("text") or request.cookies.get(TEXT_COOKIE)
    return chosen == "large"


def script_data(lang: str, keys: Iterable[str], **values: object) -> Markup:
    """JSON for a <script type="application/json"> block: the page's strings and settings for its script."""
    settings = get_settings()
    data = {"lang": lang, "timezone": settings.timezone, "sw": assets.service_worker_url(),
            "strings": {key: t(key, lang) for key in keys}, **values}
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Inside <script>, "</script" or "<!--" would end or change the element: no "<" may appear raw.
    return Markup(text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def public_link(path: str) -> str:
    """A link as it is shared and printed: on MASHANG_PUBLIC_URL, whatever host the request came in on."""
    return f"{get_settings().public_url}{path}"


def resident_page(request: Request, template: str, *, status_code: int = 200, **context: object) -> HTMLResponse:
    """web.render, plus the text-size choice remembered and the HTML gzipped for slow networks."""
    response = render(request, template, status_code=status_code, **context)
    chosen = request.query_params.get("text")
    if chosen in ("large", "normal"):
        response.set_cookie(TEXT_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return compress(request, response)


def compress(request: Request, response: HTMLResponse) -> HTMLResponse:
    response.headers["Vary"] = "Accept-Encoding"
    if len(response.body) < MIN_GZIP_BYTES or not assets.accepts_gzip(request.headers.get("accept-encoding", "")):
        return response
    response.body = assets.gzip_text(response.body)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.body))
    return response


templates.env.globals.update(pwa_asset=assets.asset_url, large_text=large_text, script_data=script_data,
                             public_link=public_link,
                             GRID_SCRIPT_STRINGS=GRID_SCRIPT_STRINGS, TRACK_SCRIPT_STRINGS=TRACK_SCRIPT_STRINGS)
