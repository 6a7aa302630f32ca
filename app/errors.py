"""Domain errors carry their HTTP status and a message in Chinese and English."""

from app.i18n import CATALOG


class DomainError(Exception):
    status_code = 400

    def __init__(
        self,
        code: str,
        *,
        field: str | None = None,
        message: str | None = None,
        message_en: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        zh, en = CATALOG.get(code, (None, None))
        self.code = code
        self.field = field
        self.message = message or zh or code
        self.message_en = message_en or en or code
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}
        super().__init__(self.message_en)

    def body(self) -> dict:
        return {
            "error": {
                "code": self.code,
                "field": self.field,
                "message": self.message,
                "message_en": self.message_en,
            }
        }


class InvalidInput(DomainError):
    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Gone(DomainError):
    status_code = 410


class Conflict(DomainError):
    status_code = 409


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, code: str, *, retry_after_seconds: int, **kwargs) -> None:
        super().__init__(code, headers={"Retry-After": str(max(1, retry_after_seconds))}, **kwargs)


def field_of(loc: tuple) -> str | None:
    """A dotted field name from a pydantic error location."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def invalid_from_errors(errors: list[dict]) -> InvalidInput:
    """The first pydantic error as the contract's 422, naming its field."""
    first = errors[0] if errors else {}
    field = field_of(tuple(first.get("loc", ())))
    detail = first.get("msg", "invalid")
    return InvalidInput("validation_error", field=field,
                        message=f"{field or '请求'} 无效：{detail}", message_en=f"{field or 'request'}: {detail}")
