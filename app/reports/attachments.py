"""A resident's photos and voice notes on a case: authorise with the upload token, count under a lock, store."""

import hmac
import os
import secrets
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import clock
from app.errors import Conflict, Gone, InvalidInput, NotFound, Unauthorized
from app.reports import codes
from app.reports import service as report_service
from app.reports.media import Media
from app.reports.models import Attachment, Case, CaseEvent

LIMITS = {"photo": 3, "voice": 1}
UPLOAD_TOKEN_FIELD = "X-Upload-Token"
ATTACHMENTS_DIR = "attachments"
_PENDING_FILES = "mashang_attachment_files"


def attachments_dir(media_dir: Path) -> Path:
    return media_dir / ATTACHMENTS_DIR


def authorise_upload(session: Session, *, tracking_code: str, upload_token: str | None,
                     idempotency_key: str | None) -> Attachment | None:
    """Refuse an unknown case (404), a missing or wrong token (401), a closed window (410); on a replay, the first."""
    case = _authorised_case(session, tracking_code=tracking_code, upload_token=upload_token, lock=False)
    return _check_replay_and_window(session, case=case, idempotency_key=idempotency_key)


def store(session: Session, *, tracking_code: str, upload_token: str | None, idempotency_key: str | None,
          media: Media, media_dir: Path) -> Attachment:
    """Check again under the case's lock, count, write the files, then the row and a timeline event; flush.

    The session must take the write lock before its first read (app.db.write_session): that is what makes
    the count hold when two uploads arrive at once. Files written here are deleted again unless the
    session's transaction commits, so a row and its file exist together or not at all.
    """
    case = _authorised_case(session, tracking_code=tracking_code, upload_token=upload_token, lock=True)
    earlier = _check_replay_and_window(session, case=case, idempotency_key=idempotency_key)
    if earlier is not None:
        return earlier
    count = session.exec(select(func.count()).select_from(Attachment).where(
        Attachment.case_id == case.id, Attachment.kind == media.kind)).one()
    if count >= LIMITS[media.kind]:
        raise Conflict("too_many_photos" if media.kind == "photo" else "too_many_voice_notes", field="file")
    folder = attachments_dir(media_dir)
    name = secrets.token_urlsafe(18)
    stored_name = _write_file(session, folder, f"{name}.{media.extension}", media.body)
    thumb_name = _write_file(session, folder, f"{name}.thumb.jpg", media.thumb) if media.thumb else None
    now = clock.now()
    attachment = Attachment(case_id=case.id, kind=media.kind, content_type=media.content_type,
                            stored_name=stored_name, thumb_name=thumb_name, size_bytes=len(media.body),
                            width=media.width, height=media.height, idempotency_key=idempotency_key,
                            created_at=now)
    _add_rows(session, attachment=attachment, event=CaseEvent(case_id=case.id, kind="attachment", at=now,
                                                               public=True, detail={"kind": media.kind}))
    return attachment


def _add_rows(session: Session, *, attachment: Attachment, event: CaseEvent) -> None:
    session.add(attachment)
    session.add(event)
    try:
        session.flush()
    except IntegrityError:
        # The lock makes this unreachable between instances that take it; the constraint is the backstop.
        raise Conflict("idempotency_in_flight", field="Idempotency-Key") from None


def _authorised_case(session: Session, *, tracking_code: str, upload_token: str | None, lock: bool) -> Case:
    case = report_service.get_case(session, tracking_code=tracking_code)
    if lock:
        # Postgres: the case row is the lock two uploads to one case queue on (SQLite already holds the write lock).
        case = session.exec(select(Case).where(Case.id == case.id).with_for_update()
                            .execution_options(populate_existing=True)).one()
    if not upload_token:
        raise Unauthorized("upload_token_missing", field=UPLOAD_TOKEN_FIELD)
    if len(upload_token) > 200 or not hmac.compare_digest(codes.digest(upload_token), case.upload_token_hash):
        raise Unauthorized("upload_token_invalid", field=UPLOAD_TOKEN_FIELD)
    return case


def _check_replay_and_window(session: Session, *, case: Case, idempotency_key: str | None) -> Attachment | None:
    # A replay is answered even just after the window closes: the client is only asking what happened.
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 100:
            raise InvalidInput("validation_error", field="Idempotency-Key",
                               message="Idempotency-Key 须为 1 到 100 个字符",
                               message_en="Idempotency-Key must be 1 to 100 characters")
        earlier = session.exec(select(Attachment).where(Attachment.case_id == case.id,
                                                        Attachment.idempotency_key == idempotency_key)).first()
        if earlier is not None:
            return earlier
    if clock.now() >= case.upload_expires_at:
        raise Gone("upload_token_expired", field=UPLOAD_TOKEN_FIELD)
    return None


def _write_file(session: Session, folder: Path, name: str, body: bytes) -> str:
    """Write to a temporary file beside the target, then rename: a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    _delete_unless_committed(session, target)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return name


def _delete_unless_committed(session: Session, path: Path) -> None:
    pending: list[Path] | None = session.info.get(_PENDING_FILES)
    if pending is None:
        pending = session.info[_PENDING_FILES] = []
        event.listen(session, "after_commit", _forget_files)
        event.listen(session, "after_transaction_end", _delete_files)
    pending.append(path)


def _forget_files(session: Session) -> None:
    session.info[_PENDING_FILES].clear()


def _delete_files(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    pending: list[Path] = session.info.get(_PENDING_FILES, [])
    for path in pending:
        path.unlink(missing_ok=True)
    pending.clear()


def list_for_case(session: Session, *, case: Case) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.case_id == case.id)
                             .order_by(Attachment.created_at, Attachment.id)))


def file_for(session: Session, *, case: Case, attachment_id: int, thumb: bool, media_dir: Path) -> tuple[Path, str]:
    """The stored file (or its thumbnail) of one of this case's attachments, and its content type."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case.id:
        raise NotFound("attachment_not_found", field="id")
    name = attachment.thumb_name if thumb else attachment.stored_name
    if name is None:
        raise NotFound("attachment_not_found", field="thumb")
    path = attachments_dir(media_dir) / Path(name).name
    if not path.is_file():
        raise NotFound("attachment_not_found", field="id")
    return path, "image/jpeg" if thumb else attachment.content_type


def purge_orphans(session: Session, *, media_dir: Path, older_than_seconds: float = 3600) -> int:
    """Delete files no attachment row names: what a crash between writing a file and committing its row left.

    Only files older than older_than_seconds are touched, so an upload in flight (file written, row not yet
    committed) keeps its file. Returns how many files were removed.
    """
    folder = attachments_dir(media_dir)
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_seconds
    candidates = [p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
    if not candidates:
        return 0
    known: set[str] = set()
    for stored, thumb in session.exec(select(Attachment.stored_name, Attachment.thumb_name)):
        known.add(stored)
        if thumb:
            known.add(thumb)
    removed = 0
    for path in candidates:
        if path.name not in known:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
