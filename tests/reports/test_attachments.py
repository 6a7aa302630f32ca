"""Photos and voice notes on a case: recognised by content, stripped of EXIF, limited, and shown only to its staff."""

import asyncio
import io
import os
import struct
import time
import zlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from PIL import ExifTags, Image
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from app import clock
from app.config import DEMO_PASSWORD, get_settings
from app.db import session_scope
from app.people import service as people_service
from app.people.models import Person
from app.reports import access
from app.reports import attachments as attachment_service
from app.reports.models import Attachment, Case, CaseEvent
from tests.reports.helpers import report_body, token_of

RED, BLUE = (220, 20, 20), (20, 20, 220)
_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_demo_passwords(monkeypatch):
    """These tests are about attachments, not password cost: the demo city's argon2 hash made cheap."""
    monkeypatch.setattr(people_service, "hash_password", _cheap_hasher.hash)


# --- files to send ---

def jpeg(size: tuple[int, int] = (40, 20), *, orientation: int | None = None, gps: bool = False) -> bytes:
    """Left half red, right half blue, optionally with an EXIF orientation and a GPS position."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (116.0, 23.0, 50.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at home")
    return out.getvalue()


def encoded(fmt: str, size: tuple[int, int] = (60, 40), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 30) if mode == "RGB" else (10, 120, 30, 128)).save(out, fmt)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 256))
            + chunk(b"IEND", b""))


WEBM = b"\x1a\x45\xdf\xa3" + b"\x42\x86\x81\x01" + os.urandom(2000)
OGG = b"OggS\x00\x02" + os.urandom(2000)
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + os.urandom(2000)


# --- helpers ---

def new_case(client) -> tuple[str, str]:
    answer = client.post("/api/v1/reports", json=report_body(token_of()))
    assert answer.status_code == 201, answer.text
    return answer.json()["tracking_code"], answer.json()["upload_token"]


def upload(client, code: str, token: str | None, data: bytes, *, filename: str = "photo.jpg",
           content_type: str = "image/jpeg", key: str | None = None) -> httpx.Response:
    headers = {}
    if token is not None:
        headers["X-Upload-Token"] = token
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/reports/{code}/attachments", files={"file": (filename, data, content_type)},
                       headers=headers)


def assert_error(answer: httpx.Response, status: int, code: str, field: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert set(error) == {"code", "field", "message", "message_en"}
    assert error["code"] == code and error["message"] and error["message_en"]
    if field is not None:
        assert error["field"] == field


def rows() -> list[Attachment]:
    with session_scope() as s:
        return list(s.exec(select(Attachment).order_by(Attachment.id)))


def media_files() -> set[str]:
    root = get_settings().media_dir
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def stored(attachment_id: int, *, thumb: bool = False) -> Path:
    with session_scope() as s:
        row = s.get(Attachment, attachment_id)
        name = row.thumb_name if thumb else row.stored_name
    return attachment_service.attachments_dir(get_settings().media_dir) / name


def login(client, phone: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/login", json={"phone": phone, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


# --- photos ---

def test_photo_upload_answers_201_with_what_was_stored(client, demo):
    code, token = new_case(client)
    answer = upload(client, code, token, jpeg())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"id", "kind", "content_type", "size_bytes", "width", "height", "created_at"}
    assert (body["kind"], body["content_type"], body["width"], body["height"]) == ("photo", "image/jpeg", 40, 20)
    assert body["size_bytes"] == stored(body["id"]).stat().st_size


def test_stored_photo_has_no_exif_no_gps_and_no_comment(client, demo):
    code, token = new_case(client)
    attachment_id = upload(client, code, token, jpeg(gps=True, orientation=1)).json()["id"]
    for path in (stored(attachment_id), stored(attachment_id, thumb=True)):
        with Image.open(path) as image:
            assert len(image.getexif()) == 0
            assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
            assert "exif" not in image.info and "comment" not in image.info
        assert b"Exif" not in path.read_bytes() and b"taken at home" not in path.read_bytes()


def test_exif_orientation_is_applied_before_it_is_dropped(client, demo):
    code, token = new_case(client)
    body = upload(client, code, token, jpeg((40, 20), orientation=6)).json()
    assert (body["width"], body["height"]) == (20, 40)
    with Image.open(stored(body["id"])) as image:
        top, bottom = image.getpixel((10, 4)), image.getpixel((10, 35))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # the left (red) half is now on top


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB")])
def test_png_and_webp_are_accepted_and_stored_as_jpeg(client, demo, fmt, mode):
    code, token = new_case(client)
    answer = upload(client, code, token, encoded(fmt, mode=mode), filename="x.bin", content_type="text/plain")
    assert answer.status_code == 201, answer.text
    with Image.open(stored(answer.json()["id"])) as image:
        assert image.format == "JPEG" and image.size == (60, 40)


def test_thumbnail_is_kept_at_most_320_pixels(client, demo):
    code, token = new_case(client)
    attachment_id = upload(client, code, token, jpeg((800, 600))).json()["id"]
    with Image.open(stored(attachment_id, thumb=True)) as thumb:
        assert thumb.size == (320, 240)


def test_html_named_photo_jpg_is_415(client, demo):
    code, token = new_case(client)
    html = b"<!doctype html><html><script>alert(1)</script></html>"
    assert_error(upload(client, code, token, html), 415, "unsupported_attachment", "file")
    assert rows() == [] and media_files() == set()


def test_svg_is_415(client, demo):
    code, token = new_case(client)
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    assert_error(upload(client, code, token, svg, filename="map.svg", content_type="image/svg+xml"),
                 415, "unsupported_attachment")


def test_heic_photo_is_415_not_taken_for_a_voice_note(client, demo):
    code, token = new_case(client)
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + os.urandom(500)
    assert_error(upload(client, code, token, heic, filename="IMG_0001.HEIC"), 415, "unsupported_attachment")


def test_decompression_bomb_is_413(client, demo):
    code, token = new_case(client)
    assert_error(upload(client, code, token, png_claiming(20000, 20000)), 413, "image_too_large", "file")


def test_photo_over_40_megapixels_is_413(client, demo):
    code, token = new_case(client)
    assert_error(upload(client, code, token, png_claiming(8000, 5001)), 413, "image_too_large")


def test_truncated_jpeg_is_422(client, demo):
    code, token = new_case(client)
    noise = Image.frombytes("RGB", (96, 96), os.urandom(96 * 96 * 3))
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=95)
    whole = out.getvalue()
    assert_error(upload(client, code, token, whole[: len(whole) // 2]), 422, "image_unreadable", "file")
    assert rows() == [] and media_files() == set()


def test_photo_over_10_mb_is_413(client, demo):
    code, token = new_case(client)
    big = b"\xff\xd8\xff\xe0" + b"\0" * (10 * 1024 * 1024)
    assert_error(upload(client, code, token, big), 413, "photo_too_large", "file")


def test_path_traversal_file_name_does_not_choose_where_the_file_goes(client, demo):
    code, token = new_case(client)
    answer = upload(client, code, token, jpeg(), filename="../../etc/passwd")
    assert answer.status_code == 201
    row = rows()[0]
    assert "/" not in row.stored_name and "passwd" not in row.stored_name
    assert media_files() == {f"attachments/{row.stored_name}", f"attachments/{row.thumb_name}"}
    assert not (Path.cwd().parent / "etc").exists()


# --- voice notes ---

@pytest.mark.parametrize(("data", "content_type"), [(WEBM, "audio/webm"), (OGG, "audio/ogg"), (M4A, "audio/mp4")])
def test_voice_note_is_recognised_by_content_and_stored_as_sent(client, demo, data, content_type):
    code, token = new_case(client)
    answer = upload(client, code, token, data, filename="note.jpg", content_type="image/jpeg")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["content_type"], body["width"]) == ("voice", content_type, None)
    assert stored(body["id"]).read_bytes() == data


def test_voice_note_over_5_mb_is_413(client, demo):
    code, token = new_case(client)
    assert_error(upload(client, code, token, b"OggS" + b"\0" * (5 * 1024 * 1024)), 413, "voice_too_large")


def test_second_voice_note_is_409(client, demo):
    code, token = new_case(client)
    assert upload(client, code, token, WEBM).status_code == 201
    assert_error(upload(client, code, token, OGG), 409, "too_many_voice_notes")


# --- limits and atomicity ---

def test_fourth_photo_is_409_and_not_stored(client, demo):
    code, token = new_case(client)
    for _ in range(3):
        assert upload(client, code, token, jpeg()).status_code == 201
    assert_error(upload(client, code, token, jpeg()), 409, "too_many_photos")
    assert len(rows()) == 3 and len(media_files()) == 6


def test_five_photos_at_once_store_exactly_three(client, demo):
    code, token = new_case(client)
    photo = jpeg()

    async def fire() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*[
                http.post(f"/api/v1/reports/{code}/attachments", files={"file": ("p.jpg", photo, "image/jpeg")},
                          headers={"X-Upload-Token": token}) for _ in range(5)])

    statuses = sorted(a.status_code for a in asyncio.run(fire()))
    assert statuses == [201, 201, 201, 409, 409]
    assert len(rows()) == 3 and len(media_files()) == 6


def test_a_failed_database_write_leaves_no_file(client, demo, monkeypatch):
    code, token = new_case(client)
    real_add_rows = attachment_service._add_rows

    def failing(session, **kwargs):
        real_add_rows(session, **kwargs)
        raise OperationalError("INSERT INTO attachment", {}, Exception("disk I/O error"))

    monkeypatch.setattr(attachment_service, "_add_rows", failing)
    with pytest.raises(OperationalError):
        upload(client, code, token, jpeg())
    assert rows() == [] and media_files() == set()


def test_replayed_idempotency_key_returns_the_first_answer_and_stores_nothing_new(client, demo):
    code, token = new_case(client)
    first = upload(client, code, token, jpeg(), key="photo-1")
    again = upload(client, code, token, jpeg(), key="photo-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(rows()) == 1 and len(media_files()) == 2


def test_an_upload_adds_a_public_event_to_the_timeline(client, demo):
    code, token = new_case(client)
    upload(client, code, token, jpeg())
    timeline = client.get(f"/api/v1/track/{code}").json()["timeline"]
    assert [e["kind"] for e in timeline][-1] == "attachment"
    with session_scope() as s:
        event = s.exec(select(CaseEvent).where(CaseEvent.kind == "attachment")).one()
        assert event.public and event.detail == {"kind": "photo"}


# --- the upload token ---

def test_missing_upload_token_is_401(client, demo):
    code, _ = new_case(client)
    assert_error(upload(client, code, None, jpeg()), 401, "upload_token_missing", "X-Upload-Token")


def test_wrong_upload_token_is_401(client, demo):
    code, _ = new_case(client)
    assert_error(upload(client, code, "not-the-token", jpeg()), 401, "upload_token_invalid", "X-Upload-Token")


def test_tracking_code_is_not_an_upload_token(client, demo):
    code, _ = new_case(client)
    assert_error(upload(client, code, code, jpeg()), 401, "upload_token_invalid")


def test_another_cases_upload_token_is_401(client, demo):
    code, _ = new_case(client)
    _, other_token = new_case(client)
    assert_error(upload(client, code, other_token, jpeg()), 401, "upload_token_invalid")


def test_upload_token_expires_after_24_hours_with_410(client, demo):
    code, token = new_case(client)
    later = clock.now() + timedelta(hours=24, seconds=1)
    clock.set_source(lambda: later)
    assert_error(upload(client, code, token, jpeg()), 410, "upload_token_expired", "X-Upload-Token")


def test_upload_token_still_works_just_before_24_hours(client, demo):
    code, token = new_case(client)
    later = clock.now() + timedelta(hours=23, minutes=59)
    clock.set_source(lambda: later)
    assert upload(client, code, token, jpeg()).status_code == 201


def test_unknown_tracking_code_is_404(client, demo):
    _, token = new_case(client)
    assert_error(upload(client, "ABCDE23456", token, jpeg()), 404, "case_not_found")


# --- the request body ---

def test_body_declared_over_the_limit_is_413(client, demo):
    code, token = new_case(client)
    assert_error(upload(client, code, token, b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024)), 413, "too_large")


def test_streamed_body_over_the_limit_is_413_before_it_is_read_whole(client, demo):
    code, token = new_case(client)
    pulled = 0

    async def endless():
        nonlocal pulled
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n\r\n\xff\xd8\xff'
        for _ in range(100):  # 100 MB if anyone read it all
            pulled += 1
            yield b"\0" * (1024 * 1024)

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post(f"/api/v1/reports/{code}/attachments", content=endless(),
                                   headers={"X-Upload-Token": token,
                                            "Content-Type": "multipart/form-data; boundary=b"})

    answer = asyncio.run(send())
    assert "content-length" not in answer.request.headers
    assert_error(answer, 413, "too_large")
    assert pulled <= 12 and rows() == []


def test_non_multipart_body_is_415(client, demo):
    code, token = new_case(client)
    answer = client.post(f"/api/v1/reports/{code}/attachments", content=jpeg(),
                         headers={"X-Upload-Token": token, "Content-Type": "image/jpeg"})
    assert_error(answer, 415, "unsupported_media_type", "Content-Type")


def test_missing_file_field_is_422(client, demo):
    code, token = new_case(client)
    answer = client.post(f"/api/v1/reports/{code}/attachments", files={"photo": ("p.jpg", jpeg(), "image/jpeg")},
                         headers={"X-Upload-Token": token})
    assert_error(answer, 422, "file_missing", "file")


def test_empty_file_is_422(client, demo):
    code, token = new_case(client)
    assert_error(upload(client, code, token, b""), 422, "empty_file", "file")


def test_garbled_multipart_is_400(client, demo):
    code, token = new_case(client)
    answer = client.post(f"/api/v1/reports/{code}/attachments", content=b"no boundary here",
                         headers={"X-Upload-Token": token, "Content-Type": "multipart/form-data"})
    assert_error(answer, 400, "malformed_multipart")


# --- staff reading them ---

def test_grid_worker_downloads_the_photo_privately(client, demo):
    code, token = new_case(client)
    attachment_id = upload(client, code, token, jpeg()).json()["id"]
    answer = client.get(f"/api/v1/cases/{code}/attachments/{attachment_id}", headers=login(client, "13800000101"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.content == stored(attachment_id).read_bytes()


def test_community_dispatcher_lists_the_attachments_with_links(client, demo):
    code, token = new_case(client)
    photo_id = upload(client, code, token, jpeg()).json()["id"]
    voice_id = upload(client, code, token, WEBM).json()["id"]
    headers = login(client, "13800000011")
    listed = client.get(f"/api/v1/cases/{code}/attachments", headers=headers)
    assert listed.status_code == 200
    assert [(a["id"], a["kind"]) for a in listed.json()] == [(photo_id, "photo"), (voice_id, "voice")]
    assert listed.json()[1]["thumb_url"] is None
    thumb = client.get(listed.json()[0]["thumb_url"], headers=headers)
    assert thumb.status_code == 200 and thumb.content == stored(photo_id, thumb=True).read_bytes()


def test_worker_of_another_grid_is_403(client, demo):
    code, token = new_case(client)
    attachment_id = upload(client, code, token, jpeg()).json()["id"]
    headers = login(client, "13800000104")
    assert_error(client.get(f"/api/v1/cases/{code}/attachments/{attachment_id}", headers=headers), 403, "forbidden")
    assert_error(client.get(f"/api/v1/cases/{code}/attachments", headers=headers), 403, "forbidden")


def test_no_login_is_401(client, demo):
    code, token = new_case(client)
    attachment_id = upload(client, code, token, jpeg()).json()["id"]
    assert_error(client.get(f"/api/v1/cases/{code}/attachments/{attachment_id}"), 401, "not_authenticated")


def test_an_attachment_is_only_found_under_its_own_case(client, demo):
    code, token = new_case(client)
    other_code, _ = new_case(client)
    attachment_id = upload(client, code, token, jpeg()).json()["id"]
    answer = client.get(f"/api/v1/cases/{other_code}/attachments/{attachment_id}",
                        headers=login(client, "13800000101"))
    assert_error(answer, 404, "attachment_not_found")


CASE_STAFF = ["13800000101", "13800000102", "13800000011", "13800000001", "13800000000"]
OTHER_STAFF = ["13800000103", "13800000104", "13800000012"]


def _may_see(code: str, phones: list[str]) -> list[bool]:
    with session_scope() as s:
        case = s.exec(select(Case).where(Case.tracking_code == code)).one()
        people = [s.exec(select(Person).where(Person.phone.endswith(p))).one() for p in phones]
        return [access.can_see_case(s, person=p, case=case) for p in people]


def test_grid_worker_backup_dispatcher_supervisor_and_admin_may_see_a_case(client, demo):
    code, _ = new_case(client)
    assert _may_see(code, CASE_STAFF) == [True] * len(CASE_STAFF)


def test_staff_of_other_grids_and_communities_may_not_see_a_case(client, demo):
    code, _ = new_case(client)
    assert _may_see(code, OTHER_STAFF) == [False] * len(OTHER_STAFF)


def test_orphan_files_left_by_a_crash_are_purged_and_attached_ones_kept(client, demo):
    """A crash between writing a file and committing its row leaves a file no row names; the hourly purge
    removes it once it is an hour old, and never a file that belongs to an attachment or an upload in flight."""
    code, token = new_case(client)
    assert upload(client, code, token, jpeg()).status_code == 201
    folder = attachment_service.attachments_dir(get_settings().media_dir)
    attached = {p.name for p in folder.iterdir()}
    for name in ("orphan.jpg", "fresh.jpg", ".upload-x.part"):
        (folder / name).write_bytes(b"left behind")
    two_hours_ago = time.time() - 7200
    for name in attached | {"orphan.jpg", ".upload-x.part"}:
        os.utime(folder / name, (two_hours_ago, two_hours_ago))

    with session_scope() as session:
        removed = attachment_service.purge_orphans(session, media_dir=get_settings().media_dir)

    assert removed == 2
    assert {p.name for p in folder.iterdir()} == attached | {"fresh.jpg"}
    (row,) = rows()
    assert {row.stored_name, row.thumb_name} == attached
