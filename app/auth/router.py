"""POST /api/v1/auth/login and logout."""

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.auth import service as auth_service
from app.db import session_scope
from app.deps import CSRF_COOKIE, SESSION_COOKIE, CurrentPerson, SessionDep, SettingsDep
from app.errors import Unauthorized
from app.people.models import PersonPublic

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    phone: str = Field(max_length=40)
    password: str = Field(max_length=200)


class LoginAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    csrf_token: str
    expires_in: int
    person: PersonPublic


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/login", response_model=LoginAnswer)
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep,
          settings: SettingsDep) -> LoginAnswer:
    client = client_address(request)
    try:
        result = auth_service.login(session, phone=body.phone, password=body.password, client=client,
                                    settings=settings)
    except Unauthorized:
        session.rollback()  # let go of the request's write lock (SQLite) before the failure is written apart
        with session_scope() as failures:
            auth_service.record_failure(failures, phone=body.phone, client=client)
        raise
    cookie = {"max_age": result.expires_in_seconds, "secure": settings.secure_cookies, "samesite": "lax",
              "path": "/"}
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, **cookie)
    response.set_cookie(CSRF_COOKIE, result.csrf_token, httponly=False, **cookie)
    return LoginAnswer(access_token=result.token, csrf_token=result.csrf_token,
                       expires_in=result.expires_in_seconds, person=PersonPublic.model_validate(result.person))


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep, person: CurrentPerson) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(SESSION_COOKIE, "")
    auth_service.logout(session, token=token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=PersonPublic)
def me(person: CurrentPerson) -> PersonPublic:
    return PersonPublic.model_validate(person)
