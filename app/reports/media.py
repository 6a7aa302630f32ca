"""What an uploaded file is, judged by its bytes: photos re-encoded without metadata, voice notes kept as sent."""

import io
import logging
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.errors import DomainError, InvalidInput

log = logging.getLogger("mashang.media")

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_VOICE_BYTES = 5 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
STORED_LONG_SIDE = 2560  # plenty for a worker's phone and for evidence; a 40 MP original would be ~10 MB again
THUMB_LONG_SIDE = 320
PHOTO_QUALITY = 85
THUMB_QUALITY = 75

# Untrusted uploads are decoded here: a decompression bomb is an error in this process, never a warning.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

PHOTO_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# ISO base media files that are pictures, not sound (an iPhone's HEIC photo starts with "ftyp" too).
IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
                b"avif", b"avis"}


class UnsupportedMedia(DomainError):
    status_code = 415


class TooLarge(DomainError):
    status_code = 413


@dataclass(frozen=True)
class Media:
    """A file ready to store: what it is, its bytes, and for a photo its thumbnail and size in pixels."""

    kind: str  # photo | voice
    content_type: str
    extension: str
    body: bytes
    thumb: bytes | None = None
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> tuple[str, str] | None:
    """(kind, format) from the file's first bytes; None for anything else (HTML, SVG, HEIC, …)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "photo", "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "photo", "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "photo", "WEBP"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "voice", "audio/webm"
    if data.startswith(b"OggS"):
        return "voice", "audio/ogg"
    if data[4:8] == b"ftyp" and data[8:12].lower() not in IMAGE_BRANDS:
        return "voice", "audio/mp4"
    return None


VOICE_EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a"}


def prepare(data: bytes) -> Media:
    """Recognise and check an upload; a photo comes back upright, re-encoded as JPEG with no EXIF."""
    if not data:
        raise InvalidInput("empty_file", field="file")
    found = sniff(data)
    if found is None:
        raise UnsupportedMedia("unsupported_attachment", field="file")
    kind, detected = found
    if kind == "voice":
        if len(data) > MAX_VOICE_BYTES:
            raise TooLarge("voice_too_large", field="file")
        return Media(kind="voice", content_type=detected, extension=VOICE_EXTENSIONS[detected], body=data)
    if len(data) > MAX_PHOTO_BYTES:
        raise TooLarge("photo_too_large", field="file")
    return _photo(data, detected)


def _photo(data: bytes, detected: str) -> Media:
    try:
        image = Image.open(io.BytesIO(data), formats=[detected])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge("image_too_large", field="file") from None
    except Exception:  # noqa: BLE001 - Pillow raises many types for a broken header; all mean "unreadable"
        raise InvalidInput("image_unreadable", field="file") from None
    if image.width * image.height > MAX_PHOTO_PIXELS:
        raise TooLarge("image_too_large", field="file")
    try:
        if image.format == "JPEG":
            image.draft("RGB", _draft_size(image.size))  # decode big JPEGs at a reduced scale: we shrink them anyway
        image.load()
        icc_profile = image.info.get("icc_profile")
        image = _upright(image)
        image = _flatten(image)
        image.thumbnail((STORED_LONG_SIDE, STORED_LONG_SIDE), Image.Resampling.LANCZOS)
        thumb = image.copy()
        thumb.thumbnail((THUMB_LONG_SIDE, THUMB_LONG_SIDE), Image.Resampling.LANCZOS)
        body = _jpeg(image, quality=PHOTO_QUALITY, icc_profile=icc_profile)
        thumb_body = _jpeg(thumb, quality=THUMB_QUALITY, icc_profile=icc_profile)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge("image_too_large", field="file") from None
    except Exception:  # noqa: BLE001 - truncated or corrupt pixel data surfaces as OSError, SyntaxError, ValueError…
        log.info("unreadable %s upload refused", detected, exc_info=True)
        raise InvalidInput("image_unreadable", field="file") from None
    return Media(kind="photo", content_type="image/jpeg", extension="jpg", body=body, thumb=thumb_body,
                 width=image.width, height=image.height)


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, STORED_LONG_SIDE / max(size))
    return math.ceil(size[0] * scale), math.ceil(size[1] * scale)


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a photo whose EXIF is broken is kept as it is rather than refused."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a malformed EXIF block must not lose the resident's photo
        return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB with any transparency laid on white (JPEG has no alpha)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, *, quality: int, icc_profile: bytes | None) -> bytes:
    # Pillow carries some metadata over from image.info (a JPEG comment, for one): start from nothing.
    # The colour profile is kept on purpose: it says how to show colours, not where or by whom.
    image.info = {}
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, icc_profile=icc_profile)
    return out.getvalue()
