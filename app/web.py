"""Server-rendered pages: Jinja templates, the page language, and the shared error pages."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.config import get_settings
from app.i18n import t
from app.phones import display_phone

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
LANG_COOKIE = "mashang_lang"


def page_lang(request: Request) -> str:
    """Chinese unless the person chose English (?lang=en, remembered in a cookie)."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return "en" if chosen == "en" else "zh"


def render(request: Request, template: str, *, status_code: int = 200, **context) -> HTMLResponse:
    lang = page_lang(request)
    settings = get_settings()
    other = "zh" if lang == "en" else "en"
    response = templates.TemplateResponse(
        request, template,
        {"lang": lang, "html_lang": "en" if lang == "en" else "zh-CN", "t": lambda key, **v: t(key, lang, **v),
         "switch_href": f"{request.url.path}?lang={other}", "sla_minutes": settings.contact_sla_seconds // 60,
         "local": lambda when: local_time(when, settings.timezone),
         **context},
        status_code=status_code,
    )
    if "lang" in request.query_params:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    response.headers["Cache-Control"] = "no-store" if status_code >= 400 else "private, max-age=60"
    return response


def local_time(when: datetime, timezone: str) -> str:
    """A UTC timestamp as people here read it (MASHANG_TIMEZONE)."""
    return when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def error_page(request: Request, *, status_code: int, title_key: str, message_key: str,
               office_phone: str | None = None) -> HTMLResponse:
    """An error page in the site's style; office_phone (E.164) is offered as a number to call."""
    return render(request, "error.html", status_code=status_code, title_key=title_key,
                  message_key=message_key, office_phone=display_phone(office_phone), office_phone_e164=office_phone)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")
