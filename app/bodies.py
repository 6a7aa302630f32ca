"""Request bodies read with a limit: refused from Content-Length before anything is read, else as they stream."""

from collections.abc import AsyncIterator, Callable

from fastapi import Request

from app.errors import DomainError


def _too_large() -> DomainError:
    return DomainError("too_large", status_code=413)


async def limited_stream(request: Request, *, limit: int,
                         too_large: Callable[[], Exception] = _too_large) -> AsyncIterator[bytes]:
    """The body's chunks; too_large() is raised once the declared or streamed size passes limit (no more is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise too_large()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        yield chunk


async def read_limited(request: Request, *, limit: int) -> bytes:
    """The whole body, at most limit bytes (413 past it)."""
    return b"".join([chunk async for chunk in limited_stream(request, limit=limit)])
