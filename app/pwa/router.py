"""Serves the resident PWA: versioned static files, the service worker and the privacy notice."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from app.pwa import assets
from app.pwa.pages import resident_page

router = APIRouter(include_in_schema=False)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def _send(request: Request, asset: assets.Asset, *, cache_control: str, etag: str,
          extra: dict[str, str] | None = None) -> Response:
    headers = {"Cache-Control": cache_control, "ETag": etag, "X-Content-Type-Options": "nosniff", **(extra or {})}
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and assets.accepts_gzip(request.headers.get("accept-encoding", "")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.content_type, headers=headers)


@router.get("/pwa/r/{version}/{name:path}")
def static_file(version: str, name: str, request: Request) -> Response:
    current, files = assets.bundle()
    asset = files.get(name)
    if asset is None or name == "sw.js":
        raise HTTPException(404)
    # A page rendered before a deploy asks for the old version: give it today's file, but never cache that
    # under the old URL, which promised other bytes.
    cache_control = IMMUTABLE if version == current else REVALIDATE
    return _send(request, asset, cache_control=cache_control, etag=f'"{current}"')


@router.get(assets.SERVICE_WORKER_PATH)
def service_worker(request: Request) -> Response:
    current, files = assets.bundle()
    # Served from /pwa/resident/ but controls the resident pages at /g/ and /t/: the header allows scope "/".
    # Never cached by HTTP, so a deploy reaches phones on their next visit.
    return _send(request, files["sw.js"], cache_control="no-cache, max-age=0", etag=f'"{current}"',
                 extra={"Service-Worker-Allowed": "/"})


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request) -> HTMLResponse:
    return resident_page(request, "privacy.html")
