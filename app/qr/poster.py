"""Print-ready A4 scan-to-report posters: shared layout, QR matrix and the PNG renderer."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import qrcode
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_H

if TYPE_CHECKING:
    from app.qr.pdf import PdfPosterWriter

__all__ = [
    "Poster",
    "PdfPosterWriter",
    "charset_of",
    "font_path",
    "poster_text",
    "qr_matrix",
    "render_png",
]

BUNDLED_FONT = Path(__file__).resolve().parent.parent / "fonts" / "wqy-microhei.ttf"

PAGE_W, PAGE_H = 595.28, 841.89  # A4 in PDF points
MARGIN = 34.0
QR_BORDER = 4  # quiet zone in modules, the minimum the QR spec allows

# Fake bold: outline stroke as a fraction of the font size (PDF line width; PNG strokes half each side).
BOLD_STROKE = 0.045
TITLE = "扫码反映 马上办理"
SUBTITLE = "Scan to report a problem - we handle it at once"
ASCII_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))

Color = tuple[int, int, int]
INK: Color = (26, 26, 26)
GREY: Color = (85, 85, 85)
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
ACCENT: Color = (198, 40, 40)  # prints as a dark grey on mono printers, so white text on it stays legible
RULE: Color = (200, 200, 200)


@dataclass(frozen=True)
class Poster:
    """Everything one printed poster shows."""

    url: str
    grid_code: str
    grid_name: str
    community_name: str
    street_name: str | None
    office_phone: str | None
    sla_minutes: int


def font_path(override: Path | str | None = None) -> Path:
    """The CJK font posters use: the override when given, else the bundled WenQuanYi Micro Hei."""
    path = Path(override) if override else BUNDLED_FONT
    if not path.is_file():
        raise FileNotFoundError(f"poster font not found: {path}")
    return path


def _promise_lines(poster: Poster) -> tuple[str, str]:
    minutes = poster.sla_minutes
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"网格员将在{minutes}分钟内联系您",
        f"A grid worker will contact you within {minutes} {unit}",
    )


def _phone_lines(poster: Poster) -> tuple[str, str] | None:
    if not poster.office_phone:
        return None
    return f"没有智能手机？请拨打 {poster.office_phone}", f"No smartphone? Call {poster.office_phone}"


def _place_line(poster: Poster) -> str:
    return " ".join(p for p in (poster.street_name, poster.community_name) if p)


def _footer_line(poster: Poster) -> str:
    return f"网格编码 Grid code: {poster.grid_code}"


def poster_text(poster: Poster) -> str:
    """All the text a poster shows, for building a PDF charset."""
    parts = [
        TITLE,
        SUBTITLE,
        poster.grid_name,
        _place_line(poster),
        *_promise_lines(poster),
        _footer_line(poster),
    ]
    parts.extend(_phone_lines(poster) or ())
    return "".join(parts) + "…"


def charset_of(posters: Iterable[Poster]) -> str:
    """Every distinct character the given posters show, for PdfPosterWriter."""
    chars: set[str] = set()
    for poster in posters:
        chars.update(poster_text(poster))
    return "".join(sorted(chars))


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR modules for url at level H with the spec's best mask, quiet zone included, True = dark."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H)
    # Tokenised URLs are mixed-case, so byte mode is optimal and the chunk optimiser is wasted time.
    qr.add_data(url, optimize=0)
    qr.best_fit()
    qr.makeImpl(True, 0)  # data under mask 0, format and version areas left light, as scoring wants
    n = qr.modules_count
    tables = _mask_tables(qr.version)
    rows0 = [int(bytes(row).translate(_BIT_TEXT), 2) for row in qr.modules]
    cols0 = [int(bytes(col).translate(_BIT_TEXT), 2) for col in zip(*qr.modules, strict=True)]
    k = _best_mask(rows0, cols0, tables, n)
    pad = [False] * QR_BORDER
    matrix = [[False] * (n + 2 * QR_BORDER) for _ in range(QR_BORDER)]
    for row, flip, fixed in zip(rows0, tables.flip_rows[k], tables.fixed_rows[k], strict=True):
        matrix.append(pad + [bit == "1" for bit in format(row ^ flip | fixed, f"0{n}b")] + pad)
    matrix.extend([False] * (n + 2 * QR_BORDER) for _ in range(QR_BORDER))
    return matrix


_BIT_TEXT = bytes.maketrans(b"\x00\x01", b"01")
# The ISO 18004 penalty patterns as qrcode.util.lost_point scores them. Neither finder-like pattern
# can overlap itself, so str.count finds every occurrence.
_LONG_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = ("10111010000", "00001011101")


class _MaskTables(NamedTuple):
    flip_rows: list[list[int]]  # per mask: data modules it flips differently from mask 0, by row
    flip_cols: list[list[int]]  # the same, by column
    fixed_rows: list[list[int]]  # per mask: dark format/version modules and the always-dark module


@lru_cache(maxsize=40)
def _mask_tables(version: int) -> _MaskTables:
    """Bitsets that turn a mask-0 symbol into any other mask's with a few integer XORs."""
    n = version * 4 + 17

    def blank() -> qrcode.QRCode:
        qr = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_H)
        qr.modules_count = n
        qr.modules = [[None] * n for _ in range(n)]
        return qr

    def bits(cells: list[tuple[int, int]]) -> list[int]:
        out = [0] * n
        for r, c in cells:
            out[r] |= 1 << (n - 1 - c)
        return out

    layout = blank()
    for row, col in ((0, 0), (n - 7, 0), (0, n - 7)):
        layout.setup_position_probe_pattern(row, col)
    layout.setup_position_adjust_pattern()
    layout.setup_timing_pattern()
    layout.setup_type_info(True, 0)
    if version >= 7:
        layout.setup_type_number(True)
    data = [(r, c) for r in range(n) for c in range(n) if layout.modules[r][c] is None]
    mask0 = qrcode.util.mask_func(0)
    tables = _MaskTables([], [], [])
    for k in range(8):
        mask = qrcode.util.mask_func(k)
        flipped = [(r, c) for r, c in data if mask(r, c) != mask0(r, c)]
        tables.flip_rows.append(bits(flipped))
        tables.flip_cols.append(bits([(c, r) for r, c in flipped]))
        info = blank()
        info.setup_type_info(False, k)
        if version >= 7:
            info.setup_type_number(False)
        tables.fixed_rows.append(bits([(r, c) for r in range(n) for c in range(n) if info.modules[r][c]]))
    return tables


def _best_mask(rows0: list[int], cols0: list[int], tables: _MaskTables, n: int) -> int:
    """qrcode's best_mask_pattern choice, scored on bitsets: the same mask, several times faster.

    A fixed mask would be faster still, but some data then yields symbols that OpenCV fails to
    even locate; the spec's penalty scoring exists to avoid exactly those.
    """
    full = (1 << n) - 1
    best, best_score = 0, -1
    for k in range(8):
        rows = [a ^ b for a, b in zip(rows0, tables.flip_rows[k], strict=True)]
        cols = [a ^ b for a, b in zip(cols0, tables.flip_cols[k], strict=True)]
        lines = "2".join(format(x, f"0{n}b") for x in rows + cols)
        score = sum(len(run) - 2 for run in _LONG_RUN.findall(lines))
        score += 40 * sum(lines.count(pattern) for pattern in _FINDER_LIKE)
        for a, b in zip(rows, rows[1:], strict=False):
            light_a, light_b = ~a & full, ~b & full
            dark = a & b & (a >> 1) & (b >> 1)
            light = light_a & light_b & (light_a >> 1) & (light_b >> 1)
            score += 3 * (dark | light).bit_count()
        dark_share = sum(x.bit_count() for x in rows) / (n * n)
        score += int(abs(dark_share * 100 - 50) / 5) * 10
        if best_score < 0 or score < best_score:
            best, best_score = k, score
    return best


class FontMetrics:
    """Glyph ids and advances from a TrueType font, the one source of text widths for PNG and PDF."""

    def __init__(self, path: Path) -> None:
        font = TTFont(path, fontNumber=0, lazy=True)
        self.path = path
        self.units_per_em: int = font["head"].unitsPerEm
        self.cmap: dict[int, str] = font.getBestCmap()
        glyph_order = font.getGlyphOrder()
        self.gid: dict[str, int] = {name: i for i, name in enumerate(glyph_order)}
        hmtx = font["hmtx"].metrics
        self.advance_by_gid: list[int] = [hmtx[name][0] for name in glyph_order]
        self.is_truetype = "glyf" in font
        self._char_advance: dict[str, float] = {}
        font.close()

    def glyph_id(self, char: str) -> int:
        """The glyph id for char, 0 (.notdef) when the font lacks it."""
        name = self.cmap.get(ord(char))
        return self.gid[name] if name is not None else 0

    def width(self, text: str, size: float) -> float:
        """Advance width of text in points at size points."""
        adv = self._char_advance
        total = 0.0
        for ch in text:
            w = adv.get(ch)
            if w is None:
                w = adv[ch] = self.advance_by_gid[self.glyph_id(ch)] / self.units_per_em
            total += w
        return total * size


@lru_cache(maxsize=4)
def metrics_for(path: Path) -> FontMetrics:
    """Cached FontMetrics per font file."""
    return FontMetrics(path)


@dataclass(frozen=True)
class TextLine:
    """One line of text; x is the centre, y the baseline, both in points from the top left."""

    text: str
    x: float
    y: float
    size: float
    color: Color
    bold: bool = False
    background: Color = WHITE  # what the text sits on, so the PNG renderer can antialias in a palette


@dataclass(frozen=True)
class Box:
    """A filled (optionally rounded) rectangle in points from the top left."""

    x: float
    y: float
    w: float
    h: float
    color: Color
    radius: float = 0.0


@dataclass(frozen=True)
class QrBlock:
    """The QR code square: top-left corner, side in points, module matrix."""

    x: float
    y: float
    size: float
    matrix: list[list[bool]]


_TOKEN = re.compile(r"[A-Za-z0-9@#&*+=_.,:;!?'\"()\[\]/\\-]+|\s+|.")
_NO_LINE_START = set("，。、；：？！）》」』】,.;:?!)…")
_NO_LINE_END = set("（《「『【(")


def _wrap(text: str, m: FontMetrics, size: float, width: float) -> list[str]:
    """Greedy line breaking: between CJK characters or at spaces, long Latin words split by character."""
    lines: list[str] = []
    line = ""
    for token in _TOKEN.findall(text):
        if not line and token.isspace():
            continue
        if m.width(line + token, size) <= width:
            line += token
            continue
        if line and not token.isspace():
            # A line should not start with closing punctuation, so take the previous character along.
            if token[0] in _NO_LINE_START and len(line) > 1:
                token, line = line[-1] + token, line[:-1]
            if line[-1] in _NO_LINE_END and len(line) > 1:
                token, line = line[-1] + token, line[:-1]
            lines.append(line.rstrip())
            line = ""
        elif line:
            lines.append(line.rstrip())
            line = ""
            continue
        for ch in token:
            if line and m.width(line + ch, size) > width:
                lines.append(line.rstrip())
                line = ""
            line += ch
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def _ellipsize(text: str, m: FontMetrics, size: float, width: float) -> str:
    while text and m.width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


@lru_cache(maxsize=4096)
def _fit(
    text: str, m: FontMetrics, width: float, max_size: float, min_size: float, max_lines: int
) -> tuple[float, tuple[str, ...]]:
    """The largest size and balanced lines that fit text in width; ellipsis only past min_size."""
    for n_lines in range(1, max_lines + 1):
        # Prefer one big line; wrap only when the text would otherwise shrink past 80 %.
        floor = min_size if n_lines == max_lines else max(min_size, max_size * 0.8)
        size = max_size
        while size >= floor:
            lines = _wrap(text, m, size, width)
            if len(lines) == n_lines:
                return size, tuple(_balance(text, m, size, width, n_lines) if n_lines > 1 else lines)
            if len(lines) < n_lines:
                break
            size -= 1.0
    kept = _wrap(text, m, min_size, width)[: max_lines - 1]
    rest = text
    for line in kept:
        rest = rest[rest.find(line) + len(line) :].lstrip()
    return min_size, (*kept, _ellipsize(rest.rstrip(), m, min_size, width))


def _balance(text: str, m: FontMetrics, size: float, width: float, n_lines: int) -> list[str]:
    """Narrowest wrap width that still gives n_lines, so two lines come out about equally long."""
    lo, hi = width / n_lines, width
    best = _wrap(text, m, size, width)
    for _ in range(12):
        mid = (lo + hi) / 2
        lines = _wrap(text, m, size, mid)
        if len(lines) <= n_lines:
            best, hi = lines, mid
        else:
            lo = mid
    return best


def layout(poster: Poster, font: Path | None = None) -> list[Box | TextLine | QrBlock]:
    """Place every element of the poster on an A4 page, in points from the top left."""
    m = metrics_for(font_path(font))
    inner = PAGE_W - 2 * MARGIN
    cx = PAGE_W / 2
    items: list[Box | TextLine | QrBlock] = []

    band_h = 122.0
    items.append(Box(MARGIN, MARGIN, inner, band_h, ACCENT, radius=14))
    title_size, _ = _fit(TITLE, m, inner - 40, 56, 30, 1)
    items.append(TextLine(TITLE, cx, MARGIN + 70, title_size, WHITE, True, ACCENT))
    sub_size, _ = _fit(SUBTITLE, m, inner - 40, 16, 10, 1)
    items.append(TextLine(SUBTITLE, cx, MARGIN + 102, sub_size, WHITE, False, ACCENT))

    qr_top = MARGIN + band_h + 16
    qr_side = 312.0
    items.append(QrBlock(cx - qr_side / 2, qr_top, qr_side, qr_matrix(poster.url)))
    _corners(items, cx - qr_side / 2, qr_top, qr_side)

    footer_y = PAGE_H - MARGIN + 4
    blocks: list[tuple[float, list[TextLine]]] = []  # (gap above, lines with y relative to block top)

    def text_block(
        text: str,
        max_size: float,
        min_size: float,
        max_lines: int,
        color: Color,
        bold: bool,
        gap: float,
        leading: float = 1.25,
    ) -> None:
        size, lines = _fit(text, m, inner, max_size, min_size, max_lines)
        block = [
            TextLine(line, cx, size * (0.92 + leading * i), size, color, bold) for i, line in enumerate(lines)
        ]
        blocks.append((gap, block))

    text_block(poster.grid_name, 40, 20, 2, INK, True, 0)
    place = _place_line(poster)
    if place:
        text_block(place, 22, 13, 2, GREY, False, 6)
    promise_cn, promise_en = _promise_lines(poster)
    text_block(promise_cn, 26, 16, 1, ACCENT, True, 18)
    text_block(promise_en, 14, 9, 1, GREY, False, 2)
    phone = _phone_lines(poster)
    if phone:
        text_block(phone[0], 21, 13, 1, INK, False, 14)
        text_block(phone[1], 13, 9, 1, GREY, False, 2)

    # Centre the variable text between the QR frame and the footer so short posters don't look top-heavy.
    top = qr_top + qr_side + 18
    bottom = footer_y - 22
    heights = [gap + max(ln.y for ln in block) + block[-1].size * 0.3 for gap, block in blocks]
    y = top + max(0.0, (bottom - top - sum(heights)) / 2)
    for (gap, block), height in zip(blocks, heights, strict=True):
        items.extend(TextLine(ln.text, ln.x, y + gap + ln.y, ln.size, ln.color, ln.bold) for ln in block)
        y += height

    foot = _footer_line(poster)
    foot_size, foot_lines = _fit(foot, m, inner, 10, 7, 1)
    items.append(Box(MARGIN, footer_y - 16, inner, 0.6, RULE))
    items.append(TextLine(foot_lines[0], cx, footer_y, foot_size, GREY))
    return items


def _corners(items: list[Box | TextLine | QrBlock], x: float, y: float, side: float) -> None:
    """Scan-here brackets just outside the quiet zone, so they never touch the code."""
    arm, thick, off = 34.0, 5.0, 6.0
    x0, y0, x1, y1 = x - off, y - off, x + side + off, y + side + off
    for cx, cy, dx, dy in ((x0, y0, 1, 1), (x1, y0, -1, 1), (x0, y1, 1, -1), (x1, y1, -1, -1)):
        hx = cx if dx > 0 else cx - arm
        vy = cy if dy > 0 else cy - arm
        items.append(Box(hx, cy if dy > 0 else cy - thick, arm, thick, ACCENT))
        items.append(Box(cx if dx > 0 else cx - thick, vy, thick, arm, ACCENT))


@lru_cache(maxsize=64)
def _pil_font(path: Path, size_px: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: no shaping is needed for CJK/Latin and it matches the hmtx widths the layout used.
    return ImageFont.truetype(str(path), size_px, index=0, layout_engine=ImageFont.Layout.BASIC)


class _Palette:
    """A PNG palette of solid colours and background-to-ink ramps for antialiased text.

    Posters use a handful of colours, so an 8-bit palette image is exact; it encodes about five times
    faster than RGB and is a third of the size, which matters at thousands of posters.
    """

    LEVELS = 24

    def __init__(self) -> None:
        self.colors: list[Color] = []
        self._index: dict[Color, int] = {}
        self._ramps: dict[tuple[Color, Color], list[int]] = {}
        self.solid(WHITE)

    def solid(self, color: Color) -> int:
        """Palette index of a colour, added on first use."""
        if color not in self._index:
            if len(self.colors) >= 256:
                raise ValueError("poster palette is full")
            self._index[color] = len(self.colors)
            self.colors.append(color)
        return self._index[color]

    def ramp(self, background: Color, ink: Color) -> list[int]:
        """A 256-entry lookup from glyph coverage to the palette index of the blended colour."""
        key = (background, ink)
        if key not in self._ramps:
            steps = [
                self.solid(
                    tuple(
                        round(b + (i - b) * k / (self.LEVELS - 1))
                        for b, i in zip(background, ink, strict=True)
                    )
                )
                for k in range(self.LEVELS)
            ]
            self._ramps[key] = [steps[round(v * (self.LEVELS - 1) / 255)] for v in range(256)]
        return self._ramps[key]

    def flat(self) -> list[int]:
        """The palette as PIL wants it."""
        return [c for color in self.colors for c in color]


_COVERED = [0] + [255] * 255


@lru_cache(maxsize=1)
def _shared_palette() -> _Palette:
    """One palette for every poster, filled up front so concurrent renders only ever read it."""
    pal = _Palette()
    for color in (BLACK, ACCENT, RULE):
        pal.solid(color)
    for background, ink in ((WHITE, INK), (WHITE, GREY), (WHITE, ACCENT), (ACCENT, WHITE)):
        pal.ramp(background, ink)
    return pal


@lru_cache(maxsize=256)
def _text_patch(
    text: str, path: Path, size_px: int, stroke: int, background: Color, color: Color
) -> tuple[Image.Image, Image.Image, int, int] | None:
    """Palette pixels, paste mask and offset from the baseline centre of one rendered line.

    Cached because most lines (title, promise, community, office phone) repeat across thousands of
    posters and FreeType rasterising is the costliest step after PNG encoding.
    """
    font = _pil_font(path, size_px)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ms", stroke_width=stroke)
    if x1 <= x0 or y1 <= y0:
        return None
    coverage = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(coverage).text(
        (-x0, -y0), text, font=font, fill=255, anchor="ms", stroke_width=stroke, stroke_fill=255
    )
    ramp = _shared_palette().ramp(background, color)
    indices = Image.frombytes("P", coverage.size, coverage.point(ramp).tobytes())
    return indices, coverage.point(_COVERED, "1"), x0, y0


def _draw_text(img: Image.Image, line: TextLine, path: Path, scale: float) -> None:
    stroke = max(1, round(line.size * BOLD_STROKE / 2 * scale)) if line.bold else 0
    size_px = max(1, round(line.size * scale))
    patch = _text_patch(line.text, path, size_px, stroke, line.background, line.color)
    if patch is not None:
        indices, mask, x0, y0 = patch
        img.paste(indices, (round(line.x * scale) + x0, round(line.y * scale) + y0), mask)


def render_png(poster: Poster, path: Path, *, dpi: int = 150, font: Path | None = None) -> None:
    """Write one A4 poster as a PNG at dpi (150 dpi = 1240x1754 px)."""
    fpath = font_path(font)
    scale = dpi / 72
    pal = _shared_palette()
    img = Image.new("P", (round(PAGE_W * scale), round(PAGE_H * scale)), pal.solid(WHITE))
    draw = ImageDraw.Draw(img)
    for item in layout(poster, fpath):
        if isinstance(item, Box):
            rect = (
                item.x * scale,
                item.y * scale,
                (item.x + item.w) * scale - 1,
                (item.y + item.h) * scale - 1,
            )
            if item.radius:
                draw.rounded_rectangle(rect, radius=item.radius * scale, fill=pal.solid(item.color))
            else:
                draw.rectangle(rect, fill=pal.solid(item.color))
        elif isinstance(item, TextLine):
            _draw_text(img, item, fpath, scale)
        else:
            n = len(item.matrix)
            # Whole pixels per module keep every module edge sharp for scanners.
            module_px = max(1, int(item.size * scale) // n)
            side = n * module_px
            to_palette = bytes.maketrans(b"\x00\x01", bytes([pal.solid(WHITE), pal.solid(BLACK)]))
            raw = b"".join(bytes(row) for row in item.matrix).translate(to_palette)
            qr = Image.frombytes("P", (n, n), raw).resize((side, side), Image.Resampling.NEAREST)
            left = round((item.x + item.size / 2) * scale - side / 2)
            top = round((item.y + item.size / 2) * scale - side / 2)
            img.paste(qr, (left, top))
    img.putpalette(pal.flat())
    img.save(path, format="PNG", dpi=(dpi, dpi), compress_level=3)


def __getattr__(name: str) -> Any:
    # PdfPosterWriter lives in app.qr.pdf, which imports this module; resolve it lazily to avoid the cycle.
    if name == "PdfPosterWriter":
        from app.qr.pdf import PdfPosterWriter

        return PdfPosterWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
