"""Web Push opt-in for staff browsers: the VAPID public key and subscriptions."""

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app import clock
from app.deps import CurrentPerson, SessionDep, SettingsDep
from app.errors import NotFound
from app.paging import webpush

router = APIRouter(prefix="/api/v1/push", tags=["push"])


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(min_length=1, max_length=200)
    auth: str = Field(min_length=1, max_length=100)


class SubscriptionIn(BaseModel):
    endpoint: str = Field(min_length=1, max_length=1000)
    keys: SubscriptionKeys


class Unsubscribe(BaseModel):
    endpoint: str = Field(min_length=1, max_length=1000)


@router.get("/key")
def public_key(settings: SettingsDep) -> dict:
    """The VAPID public key browsers subscribe with; 404 when Web Push is not configured."""
    if not settings.web_push_enabled:
        raise NotFound("not_found", message="未启用网页推送", message_en="Web Push is not configured")
    return {"public_key": settings.vapid_public_key}


@router.post("/subscriptions", status_code=201)
def subscribe(body: SubscriptionIn, session: SessionDep, person: CurrentPerson, response: Response) -> dict:
    created = webpush.subscribe(session, person_id=person.id, endpoint=body.endpoint, p256dh=body.keys.p256dh,
                                auth=body.keys.auth, now=clock.now())
    if not created:
        response.status_code = 200
    return {"endpoint": body.endpoint, "created": created}


@router.post("/subscriptions/remove", status_code=204)
def unsubscribe(body: Unsubscribe, session: SessionDep, person: CurrentPerson) -> Response:
    webpush.unsubscribe(session, person_id=person.id, endpoint=body.endpoint)
    return Response(status_code=204)
