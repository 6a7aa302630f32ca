"""A streaming PDF writer for posters: pages go to disk as they come, memory stays flat."""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from array import array
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from fontTools import subset
from fontTools.ttLib import TTFont

from app.qr.poster import (
    ASCII_PRINTABLE,
    BLACK,
    BOLD_STROKE,
    PAGE_H,
    PAGE_W,
    SUBTITLE,
    TITLE,
    Box,
    Color,
    FontMetrics,
    Poster,
    QrBlock,
    TextLine,
    font_path,
    layout,
    metrics_for,
)

PAGES_PER_NODE = 64  # a two-level page tree: viewers seek faster than through one flat 8,000-kid array
_BEZIER = 0.5523  # control-point factor for a quarter circle


def _n(value: float) -> str:
    """A compact PDF number."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rgb(color: Color) -> str:
    return " ".join(_n(c / 255) for c in color)


_DARK_RUN = re.compile(rb"\x01+")


def qr_runs(matrix: list[list[bool]]) -> list[tuple[int, int, int, int]]:
    """Dark modules merged into rectangles (col, row, width, height): row runs, stacked where they repeat."""
    open_runs: dict[tuple[int, int], int] = {}
    rects: list[tuple[int, int, int, int]] = []
    for r, row in enumerate([*matrix, []]):
        runs = {(m.start(), m.end() - m.start()) for m in _DARK_RUN.finditer(bytes(row))}
        for key in sorted(k for k in open_runs if k not in runs):
            start_row = open_runs.pop(key)
            rects.append((key[0], start_row, key[1], r - start_row))
        for key in runs:
            open_runs.setdefault(key, r)
    return rects


class PdfPosterWriter:
    """Writes one poster per A4 page into a single PDF, streaming each page to disk.

    Only byte offsets (8 bytes per object) and the set of used glyphs stay in memory. The embedded
    font is subset once, at close, to the given charset plus ASCII and whatever the pages used,
    keeping the original glyph ids so content streams can be written before the subset exists.
    """

    def __init__(self, path: Path, charset: str, *, font: Path | None = None) -> None:
        self.path = Path(path)
        self._font_path = font_path(font)
        self._m: FontMetrics = metrics_for(self._font_path)
        if not self._m.is_truetype:
            raise ValueError(f"{self._font_path} has CFF outlines; the PDF writer embeds TrueType fonts only")
        self._used: dict[int, str] = {}  # glyph id -> a character it renders
        for ch in set(charset) | set(ASCII_PRINTABLE) | set(TITLE) | set(SUBTITLE) | {"…"}:
            self._use(ch)
        self._offsets = array("Q", [0])  # index = object number; 0 is the free-list head
        self._file: BinaryIO = open(self.path, "wb", buffering=1 << 20)
        self._pos = 0
        self._closed = False
        self._page_count = 0
        self._node_kids: list[int] = []
        self._node_obj = 0
        self._nodes: list[int] = []  # object numbers of the intermediate page-tree nodes
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._catalog = self._reserve()
        self._root = self._reserve()
        self._type0 = self._reserve()
        self._resources = self._object(
            f"<< /Font << /F1 {self._type0} 0 R >> /ProcSet [/PDF /Text] >>".encode()
        )

    def __enter__(self) -> PdfPosterWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._abandon()

    @property
    def page_count(self) -> int:
        """Pages added so far."""
        return self._page_count

    def add(self, poster: Poster) -> None:
        """Append one poster as a new page."""
        if self._closed:
            raise ValueError("PdfPosterWriter is closed")
        if not self._node_kids:
            self._node_obj = self._reserve()
        content = zlib.compress(self._content(poster), 6)
        stream = self._object(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream"
        )
        page = self._object(
            (
                f"<< /Type /Page /Parent {self._node_obj} 0 R /MediaBox [0 0 {_n(PAGE_W)} {_n(PAGE_H)}] "
                f"/Resources {self._resources} 0 R /Contents {stream} 0 R >>"
            ).encode()
        )
        self._node_kids.append(page)
        self._page_count += 1
        if len(self._node_kids) == PAGES_PER_NODE:
            self._flush_node()

    def close(self) -> None:
        """Write the font, page tree, cross-reference table and trailer, then close the file."""
        if self._closed:
            return
        try:
            self._finish()
        except BaseException:
            self._abandon()
            raise
        self._file.close()
        self._closed = True

    def _abandon(self) -> None:
        # A half-written PDF is unreadable; leave nothing rather than a corrupt file.
        self._closed = True
        self._file.close()
        self.path.unlink(missing_ok=True)

    def _finish(self) -> None:
        if self._node_kids:
            self._flush_node()
        kids = " ".join(f"{obj} 0 R" for obj in self._nodes)
        self._object(f"<< /Type /Pages /Kids [{kids}] /Count {self._page_count} >>".encode(), self._root)
        self._object(f"<< /Type /Catalog /Pages {self._root} 0 R >>".encode(), self._catalog)
        self._write_font()
        info = self._object(b"<< /Producer (Mashang poster writer) /Title (Mashang QR posters) >>")
        xref_at = self._pos
        size = len(self._offsets)
        lines = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        lines.extend(b"%010d 00000 n \n" % off for off in self._offsets[1:])
        self._write(b"".join(lines))
        self._write(
            f"trailer\n<< /Size {size} /Root {self._catalog} 0 R /Info {info} 0 R >>\n"
            f"startxref\n{xref_at}\n%%EOF\n".encode()
        )

    def _use(self, ch: str) -> int:
        gid = self._m.glyph_id(ch)
        if gid:
            self._used.setdefault(gid, ch)
        return gid

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._pos += len(data)

    def _reserve(self) -> int:
        self._offsets.append(0)
        return len(self._offsets) - 1

    def _object(self, body: bytes, number: int | None = None) -> int:
        if number is None:
            number = self._reserve()
        self._offsets[number] = self._pos
        self._write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
        return number

    def _flush_node(self) -> None:
        kids = " ".join(f"{k} 0 R" for k in self._node_kids)
        count = len(self._node_kids)
        self._object(
            f"<< /Type /Pages /Parent {self._root} 0 R /Kids [{kids}] /Count {count} >>".encode(),
            self._node_obj,
        )
        self._nodes.append(self._node_obj)
        self._node_kids = []

    def _content(self, poster: Poster) -> bytes:
        out: list[str] = []
        for item in layout(poster, self._font_path):
            if isinstance(item, Box):
                out.append(f"{_rgb(item.color)} rg")
                out.append(self._box_path(item))
                out.append("f")
            elif isinstance(item, TextLine):
                out.append(self._text(item))
            else:
                out.append(self._qr(item))
        return "\n".join(out).encode()

    @staticmethod
    def _box_path(b: Box) -> str:
        x, y = b.x, PAGE_H - b.y - b.h
        if not b.radius:
            return f"{_n(x)} {_n(y)} {_n(b.w)} {_n(b.h)} re"
        r = min(b.radius, b.w / 2, b.h / 2)
        k = r * _BEZIER
        x1, y1 = x + b.w, y + b.h
        pts = [
            f"{_n(x + r)} {_n(y)} m",
            f"{_n(x1 - r)} {_n(y)} l",
            f"{_n(x1 - r + k)} {_n(y)} {_n(x1)} {_n(y + r - k)} {_n(x1)} {_n(y + r)} c",
            f"{_n(x1)} {_n(y1 - r)} l",
            f"{_n(x1)} {_n(y1 - r + k)} {_n(x1 - r + k)} {_n(y1)} {_n(x1 - r)} {_n(y1)} c",
            f"{_n(x + r)} {_n(y1)} l",
            f"{_n(x + r - k)} {_n(y1)} {_n(x)} {_n(y1 - r + k)} {_n(x)} {_n(y1 - r)} c",
            f"{_n(x)} {_n(y + r)} l",
            f"{_n(x)} {_n(y + r - k)} {_n(x + r - k)} {_n(y)} {_n(x + r)} {_n(y)} c",
            "h",
        ]
        return "\n".join(pts)

    def _text(self, t: TextLine) -> str:
        left = t.x - self._m.width(t.text, t.size) / 2
        glyphs = "".join(f"{self._use(ch):04X}" for ch in t.text)
        color = _rgb(t.color)
        # Fake bold: fill and stroke the outline, the same trick the PNG renderer does with stroke_width.
        mode = f"{color} RG {_n(t.size * BOLD_STROKE)} w 2 Tr" if t.bold else "0 Tr"
        return f"BT {color} rg {mode} /F1 {_n(t.size)} Tf {_n(left)} {_n(PAGE_H - t.y)} Td <{glyphs}> Tj ET"

    @staticmethod
    def _qr(q: QrBlock) -> str:
        module = q.size / len(q.matrix)
        # Module units with y pointing down; one path and one fill, so no seams between rectangles.
        rects = " ".join(f"{c} {r} {w} {h} re" for c, r, w, h in qr_runs(q.matrix))
        return (
            f"q {_rgb(BLACK)} rg {module:.4f} 0 0 {-module:.4f} {_n(q.x)} {_n(PAGE_H - q.y)} cm {rects} f Q"
        )

    def _write_font(self) -> None:
        m = self._m
        font = TTFont(self._font_path, fontNumber=0)
        options = subset.Options()
        # Keeping original glyph ids lets pages written before the subset existed point at the right glyphs.
        options.retain_gids = True
        options.notdef_outline = True
        options.hinting = False
        options.layout_features = []
        options.drop_tables = [*options.drop_tables, "FFTM"]
        options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
        subsetter = subset.Subsetter(options)
        subsetter.populate(gids=sorted({0, *self._used}))
        subsetter.subset(font)
        buf = io.BytesIO()
        font.save(buf)
        raw = buf.getvalue()
        head, os2 = font["head"], font["OS/2"]
        font.close()

        upem = m.units_per_em

        def scaled(v: float) -> int:
            return round(v * 1000 / upem)

        used = sorted(self._used)
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha1(repr(used).encode()).digest()[:6])
        name = (
            f"{tag}+WenQuanYiMicroHei" if self._font_path.name.startswith("wqy-microhei") else f"{tag}+Poster"
        )
        packed = zlib.compress(raw, 9)
        file_obj = self._object(
            b"<< /Length %d /Length1 %d /Filter /FlateDecode >>\nstream\n" % (len(packed), len(raw))
            + packed
            + b"\nendstream"
        )
        bbox = " ".join(str(scaled(v)) for v in (head.xMin, head.yMin, head.xMax, head.yMax))
        cap = getattr(os2, "sCapHeight", 0) or os2.sTypoAscender
        descriptor = self._object(
            (
                f"<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [{bbox}] /ItalicAngle 0 "
                f"/Ascent {scaled(os2.sTypoAscender)} /Descent {scaled(os2.sTypoDescender)} "
                f"/CapHeight {scaled(cap)} /StemV 80 /FontFile2 {file_obj} 0 R >>"
            ).encode()
        )
        cid_font = self._object(
            (
                f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
                f"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
                f"/FontDescriptor {descriptor} 0 R /DW 1000 /W [{self._widths(used)}] "
                "/CIDToGIDMap /Identity >>"
            ).encode()
        )
        cmap = zlib.compress(self._to_unicode(used), 9)
        to_unicode = self._object(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cmap) + cmap + b"\nendstream"
        )
        self._object(
            (
                f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H "
                f"/DescendantFonts [{cid_font} 0 R] /ToUnicode {to_unicode} 0 R >>"
            ).encode(),
            self._type0,
        )

    def _widths(self, gids: list[int]) -> str:
        adv, upem = self._m.advance_by_gid, self._m.units_per_em
        parts: list[str] = []
        run: list[int] = []
        for gid in [0, *gids]:
            if run and gid == run[-1] + 1:
                run.append(gid)
                continue
            if run:
                parts.append(f"{run[0]} [{' '.join(str(round(adv[g] * 1000 / upem)) for g in run)}]")
            run = [gid]
        parts.append(f"{run[0]} [{' '.join(str(round(adv[g] * 1000 / upem)) for g in run)}]")
        return " ".join(parts)

    def _to_unicode(self, gids: list[int]) -> bytes:
        head = (
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
            "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        )
        body: list[str] = []
        for i in range(0, len(gids), 100):
            chunk = gids[i : i + 100]
            body.append(f"{len(chunk)} beginbfchar")
            body.extend(f"<{g:04X}> <{self._used[g].encode('utf-16-be').hex().upper()}>" for g in chunk)
            body.append("endbfchar")
        tail = "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
        return (head + "\n".join(body) + tail).encode()
