"""Photos and voice notes: the resident uploads with the case's upload token; staff who may see the case read them."""

from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from app.bodies import limited_stream
from app.db import write_session
from app.deps import CurrentPerson, SessionDep, SettingsDep, locks_itself
from app.errors import DomainError, InvalidInput
from app.reports import access, media
from app.reports import attachments as attachment_service
from app.reports.media import TooLarge, UnsupportedMedia
from app.reports.models import Attachment

router = APIRouter(tags=["attachments"])

# The largest photo plus room for the multipart envelope; the per-kind limits are checked on the file itself.
MAX_UPLOAD_BODY = media.MAX_PHOTO_BYTES + 512 * 1024
PRIVATE = {"Cache-Control": "private, no-store"}


def _too_large() -> TooLarge:
    return TooLarge("too_large", field="file", message="上传的文件太大：照片最多 10 MB，语音最多 5 MB。",
                    message_en="The upload is too large: photos up to 10 MB, voice notes up to 5 MB.")


class AttachmentPublic(BaseModel):
    id: int
    kind: str
    content_type: str
    size_bytes: int
    width: int | None
    height: int | None
    created_at: datetime

    @classmethod
    def of(cls, attachment: Attachment) -> "AttachmentPublic":
        return cls.model_validate(attachment, from_attributes=True)


class AttachmentListed(AttachmentPublic):
    url: str
    thumb_url: str | None


async def read_upload(request: Request, *, limit: int) -> bytes:
    """The multipart field `file`: 415 if not multipart; 413 past limit, declared or streamed (no more is read)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise UnsupportedMedia("unsupported_media_type", field="Content-Type")
    chunks = limited_stream(request, limit=limit, too_large=_too_large)
    parser = MultiPartParser(request.headers, chunks, max_files=1, max_fields=8, max_part_size=4096)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise DomainError("malformed_multipart", field="file", status_code=400,
                          message_en=f"The multipart body could not be read: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("file_missing", field="file")
        return await upload.read()
    finally:
        await form.close()


def _upload(session: Session, *, tracking_code: str, upload_token: str | None, idempotency_key: str | None,
            data: bytes, media_dir: Path) -> Attachment:
    # Strangers are refused before any decoding; the decoding happens before the write lock is taken.
    earlier = attachment_service.authorise_upload(session, tracking_code=tracking_code, upload_token=upload_token,
                                                  idempotency_key=idempotency_key)
    if earlier is not None:
        return earlier
    prepared = media.prepare(data)
    with write_session() as writer:
        attachment = attachment_service.store(writer, tracking_code=tracking_code, upload_token=upload_token,
                                              idempotency_key=idempotency_key, media=prepared, media_dir=media_dir)
        writer.commit()
    return attachment


@router.post("/api/v1/reports/{tracking_code}/attachments", status_code=201, response_model=AttachmentPublic,
             tags=["resident"], responses={400: {}, 401: {}, 404: {}, 409: {}, 410: {}, 413: {}, 415: {}, 422: {}})
@locks_itself
async def upload_attachment(
    tracking_code: str, request: Request, session: SessionDep, settings: SettingsDep,
    upload_token: Annotated[str | None, Header(alias="X-Upload-Token")] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    data = await read_upload(request, limit=MAX_UPLOAD_BODY)
    attachment = await run_in_threadpool(
        _upload, session, tracking_code=tracking_code, upload_token=upload_token, idempotency_key=idempotency_key,
        data=data, media_dir=settings.media_dir)
    return JSONResponse(AttachmentPublic.of(attachment).model_dump(mode="json"), status_code=201, headers=PRIVATE)


@router.get("/api/v1/cases/{tracking_code}/attachments", response_model=list[AttachmentListed],
            responses={401: {}, 403: {}, 404: {}})
def list_attachments(tracking_code: str, response: Response, session: SessionDep,
                     person: CurrentPerson) -> list[AttachmentListed]:
    case = access.case_for_staff(session, tracking_code=tracking_code, person=person)
    response.headers.update(PRIVATE)
    base = f"/api/v1/cases/{case.tracking_code}/attachments"
    return [AttachmentListed(**AttachmentPublic.of(a).model_dump(), url=f"{base}/{a.id}",
                             thumb_url=f"{base}/{a.id}?thumb=1" if a.thumb_name else None)
            for a in attachment_service.list_for_case(session, case=case)]


@router.get("/api/v1/cases/{tracking_code}/attachments/{attachment_id}", response_class=FileResponse,
            responses={401: {}, 403: {}, 404: {}})
def get_attachment(tracking_code: str, attachment_id: int, session: SessionDep, settings: SettingsDep,
                   person: CurrentPerson, thumb: bool = False) -> FileResponse:
    case = access.case_for_staff(session, tracking_code=tracking_code, person=person)
    path, content_type = attachment_service.file_for(session, case=case, attachment_id=attachment_id, thumb=thumb,
                                                     media_dir=settings.media_dir)
    # The bytes were checked on the way in; nosniff and a sandbox keep a browser from reading them as a page.
    return FileResponse(path, media_type=content_type,
                        headers={**PRIVATE, "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox"})
