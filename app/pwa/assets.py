"""The resident PWA's static files, addressed by a content version so they can be cached for a year.

Every file under pwa/resident is served at /pwa/r/{version}/{name}. The version is a hash of the whole
folder, so plain ES modules that import each other by relative URL stay consistent without a bundler:
change any file and every URL changes with it.
"""

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PWA_DIR = Path(__file__).resolve().parents[2] / "pwa" / "resident"
ASSET_PREFIX = "/pwa/r"
SERVICE_WORKER_PATH = "/pwa/resident/sw.js"
# Text worth compressing; PNGs are compressed already.
COMPRESSIBLE = {".js", ".css", ".webmanifest", ".svg", ".json", ".html"}
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    """One static file, with its gzip form when that is smaller."""

    name: str
    content_type: str
    body: bytes
    gzipped: bytes | None


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@lru_cache(maxsize=1)
def bundle() -> tuple[str, dict[str, Asset]]:
    """(version, files by name), read once per process: the files ship with the code."""
    files: dict[str, Asset] = {}
    digest = hashlib.sha256()
    for path in sorted(p for p in PWA_DIR.rglob("*") if p.is_file()):
        name = path.relative_to(PWA_DIR).as_posix()
        body = path.read_bytes()
        digest.update(name.encode() + b"\0" + body + b"\0")
        packed = gzip.compress(body, compresslevel=9, mtime=0) if path.suffix in COMPRESSIBLE else None
        files[name] = Asset(name, _content_type(path), body, packed if packed and len(packed) < len(body) else None)
    return digest.hexdigest()[:12], files


def version() -> str:
    return bundle()[0]


def asset_url(name: str) -> str:
    """The long-cacheable URL of a file under pwa/resident."""
    return f"{ASSET_PREFIX}/{version()}/{name}"


def service_worker_url() -> str:
    # The version in the query makes a new deploy a new script, which the browser installs in place of the old.
    return f"{SERVICE_WORKER_PATH}?v={version()}"


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header allows gzip (a q of 0 refuses it)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        params = params.replace(" ", "")
        try:
            return not params.startswith("q=") or float(params[2:]) > 0
        except ValueError:
            return False
    return False


def gzip_text(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)
