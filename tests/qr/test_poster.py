"""Poster rendering: QR decodability, real CJK glyphs, PDF structure and streaming memory."""

from __future__ import annotations

import random
import string
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import qrcode
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_H

from app.qr.pdf import PdfPosterWriter as PdfWriterFromPdfModule
from app.qr.poster import (
    MARGIN,
    PAGE_H,
    PAGE_W,
    QR_BORDER,
    SUBTITLE,
    TITLE,
    PdfPosterWriter,
    Poster,
    TextLine,
    charset_of,
    font_path,
    layout,
    metrics_for,
    qr_matrix,
    render_png,
)

ROOT = Path(__file__).resolve().parents[2]
FIXED_CHINESE = [TITLE, "网格员将在分钟内联系您", "没有智能手机？请拨打", "网格编码"]


def make_poster(i: int = 0, **changes: object) -> Poster:
    """A realistic poster; i makes the URL and names unique."""
    fields: dict[str, object] = dict(
        url=f"http://127.0.0.1:8000/g/Ab3dEf9hJkLmNpQrStUv{i:04d}",
        grid_code=f"GD-620102-003-{i:04d}",
        grid_name=f"兰州路社区第{i}网格",
        community_name="兰州路社区",
        street_name="东岗西路街道",
        office_phone="0943-8221234",
        sla_minutes=30,
    )
    fields.update(changes)
    return Poster(**fields)  # type: ignore[arg-type]


def decode_qr(image: np.ndarray) -> str:
    """The text OpenCV reads from the only QR code in image.

    OpenCV's classic detector fails to locate a few percent of valid symbols (even ones qrcode
    masks by the spec), so the ArUco-based detector gets a second look before declaring failure.
    """
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    if not text:
        text, _points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return text


def png_array(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1].copy()


@pytest.fixture(scope="module")
def three_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Poster]]:
    posters = [
        make_poster(1),
        make_poster(
            2, url="https://wangge.lanzhou.example.gov.cn/g/Zx9Qw8Er7Ty6Ui5Op4As3Df2", street_name=None
        ),
        make_poster(
            3, grid_name="城关区张掖路街道兰州路与庆阳路交叉口东侧老旧小区第三十七号网格", office_phone=None
        ),
    ]
    path = tmp_path_factory.mktemp("pdf") / "posters.pdf"
    with PdfPosterWriter(path, charset_of(posters)) as writer:
        for poster in posters:
            writer.add(poster)
    return path, posters


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/g/Ab3dEf9hJkLmNpQrStUvWx",
        "https://wangge.chengguan.lanzhou.example.gov.cn/g/Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lm",
    ],
)
def test_png_qr_decodes_to_exact_url(tmp_path: Path, url: str) -> None:
    path = tmp_path / "poster.png"
    render_png(make_poster(url=url), path)
    assert decode_qr(png_array(path)) == url


def test_png_is_a4_at_150_dpi(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    render_png(make_poster(), path)
    with Image.open(path) as img:
        assert img.size == (1240, 1754)
        assert round(img.info["dpi"][0]) == 150


def test_qr_matrix_has_four_module_quiet_zone() -> None:
    matrix = qr_matrix("http://127.0.0.1:8000/g/Ab3dEf9hJkLmNpQrStUvWx")
    n = len(matrix)
    border = [matrix[r][c] for r in range(n) for c in range(n) if min(r, c, n - 1 - r, n - 1 - c) < QR_BORDER]
    assert QR_BORDER >= 4 and not any(border) and matrix[QR_BORDER][QR_BORDER]


def test_qr_matrices_for_many_tokens_all_decode() -> None:
    rng = random.Random(8447)
    urls = [
        "http://127.0.0.1:8000/g/" + "".join(rng.choices(string.ascii_letters + string.digits, k=22))
        for _ in range(40)
    ]
    for url in urls:
        matrix = np.array(qr_matrix(url), dtype=np.uint8)
        image = np.kron(255 - matrix * 255, np.ones((6, 6), dtype=np.uint8))
        assert decode_qr(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)) == url


@pytest.mark.parametrize("length", [4, 22, 60, 160])
def test_qr_mask_is_the_one_qrcode_would_choose(length: int) -> None:
    url = "https://wangge.example.gov.cn/g/" + "Ab3dEf9hJk" * (length // 10) + "x" * (length % 10)
    reference = qrcode.QRCode(error_correction=ERROR_CORRECT_H, border=QR_BORDER)
    reference.add_data(url, optimize=0)
    reference.make()
    assert qr_matrix(url) == [[bool(m) for m in row] for row in reference.get_matrix()]


def test_pdf_page_count_matches_posters_added(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, posters = three_page_pdf
    assert len(pdfium.PdfDocument(path)) == len(posters)


def test_each_pdf_page_decodes_to_its_own_url(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, posters = three_page_pdf
    pdf = pdfium.PdfDocument(path)
    for page, poster in zip(pdf, posters, strict=True):
        image = np.asarray(page.render(scale=2).to_pil().convert("RGB"))[:, :, ::-1].copy()
        assert decode_qr(image) == poster.url


def test_pdf_text_contains_grid_name_and_title(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, posters = three_page_pdf
    text = pdfium.PdfDocument(path)[0].get_textpage().get_text_range()
    assert posters[0].grid_name in text and "扫码反映" in text


def test_pdf_text_contains_promise_and_phone(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, _ = three_page_pdf
    text = pdfium.PdfDocument(path)[0].get_textpage().get_text_range()
    assert "网格员将在30分钟内联系您" in text and "请拨打 0943-8221234" in text


def test_pdf_page_without_phone_has_no_phone_line(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, _ = three_page_pdf
    text = pdfium.PdfDocument(path)[2].get_textpage().get_text_range()
    assert "请拨打" not in text and "No smartphone" not in text


def test_pdf_text_survives_a_charset_that_misses_characters(tmp_path: Path) -> None:
    path = tmp_path / "sparse-charset.pdf"
    poster = make_poster(grid_name="雁滩家园社区第九网格")
    with PdfPosterWriter(path, charset="") as writer:
        writer.add(poster)
    text = pdfium.PdfDocument(path)[0].get_textpage().get_text_range()
    assert "雁滩家园社区第九网格" in text


def test_pdf_embeds_the_font_once_for_all_pages(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, _ = three_page_pdf
    assert path.read_bytes().count(b"/FontFile2") == 1


def test_pdf_from_pdf_module_and_poster_module_is_one_class() -> None:
    assert PdfPosterWriter is PdfWriterFromPdfModule


def test_failed_pdf_export_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    with pytest.raises(RuntimeError), PdfPosterWriter(path, "") as writer:
        writer.add(make_poster())
        raise RuntimeError("export interrupted")
    assert not path.exists()


def test_font_cmap_has_every_fixed_chinese_character() -> None:
    cmap = TTFont(font_path(), lazy=True).getBestCmap()
    missing = {ch for text in FIXED_CHINESE for ch in text if ord(ch) not in cmap}
    assert missing == set()


def test_bundled_font_ships_with_its_licence() -> None:
    licence = (font_path().parent / "LICENSE-wqy-microhei.txt").read_text(encoding="utf-8")
    assert "Apache License" in licence and font_path().stat().st_size < 6_000_000


def test_chinese_glyphs_differ_from_notdef_boxes() -> None:
    font = ImageFont.truetype(str(font_path()), 64)
    assert 0x10FFFD not in TTFont(font_path(), lazy=True).getBestCmap()

    def bitmap(text: str) -> bytes:
        img = Image.new("L", (400, 100), 0)
        ImageDraw.Draw(img).text((10, 10), text, font=font, fill=255)
        return img.tobytes()

    chinese = bitmap("扫码反映")
    assert any(chinese) and chinese != bitmap(chr(0x10FFFD) * 4)


def test_poster_title_region_has_ink(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    render_png(make_poster(), path)
    title = next(i for i in layout(make_poster()) if isinstance(i, TextLine) and i.text == TITLE)
    scale = 150 / 72
    top, bottom = (title.y - title.size * 0.85) * scale, (title.y + title.size * 0.1) * scale
    left, right = (MARGIN + 20) * scale, (PAGE_W - MARGIN - 20) * scale
    region = np.asarray(Image.open(path).convert("L").crop((int(left), int(top), int(right), int(bottom))))
    # The title is white on the red band: a healthy share of the strip must be glyph pixels.
    assert (region > 200).mean() > 0.15


def test_pdf_title_region_has_ink(three_page_pdf: tuple[Path, list[Poster]]) -> None:
    path, _ = three_page_pdf
    title = next(i for i in layout(make_poster()) if isinstance(i, TextLine) and i.text == TITLE)
    page = pdfium.PdfDocument(path)[0].render(scale=1).to_pil().convert("L")
    box = (MARGIN + 20, title.y - title.size * 0.85, PAGE_W - MARGIN - 20, title.y + title.size * 0.1)
    strip = page.crop(tuple(int(v) for v in box))
    # Blank or boxed glyphs from a broken font subset would leave the strip almost all red.
    assert (np.asarray(strip) > 200).mean() > 0.15


def test_long_names_stay_inside_the_page_margins() -> None:
    poster = make_poster(
        grid_name="网格" * 150,
        community_name="社区Community" * 40,
        street_name="W" * 90,
        office_phone="0" * 60,
    )
    metrics = metrics_for(font_path())
    lines = [i for i in layout(poster) if isinstance(i, TextLine)]
    for line in lines:
        half = metrics.width(line.text, line.size) / 2
        assert MARGIN <= line.x - half and line.x + half <= PAGE_W - MARGIN, line.text
        assert MARGIN <= line.y - line.size and line.y <= PAGE_H - MARGIN + 5, line.text


def test_promise_uses_sla_minutes() -> None:
    texts = [i.text for i in layout(make_poster(sla_minutes=45)) if isinstance(i, TextLine)]
    assert "网格员将在45分钟内联系您" in texts and "A grid worker will contact you within 45 minutes" in texts


def test_charset_covers_fixed_and_variable_text() -> None:
    charset = set(charset_of([make_poster(7)]))
    assert set(TITLE + SUBTITLE + "兰州路社区第7网格东岗西路街道0943-") <= charset


PEAK_RSS_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from app.qr.poster import Poster, PdfPosterWriter
    count, out = int(sys.argv[1]), Path(sys.argv[2])
    with PdfPosterWriter(out, "兰州路社区第网格东岗西路街道0123456789") as writer:
        for i in range(count):
            writer.add(Poster(
                url=f"http://127.0.0.1:8000/g/Ab3dEf9hJkLmNpQrSt{i:06d}", grid_code=f"GD-{i}",
                grid_name=f"兰州路社区第{i}网格", community_name="兰州路社区", street_name="东岗西路街道",
                office_phone="0943-8221234", sla_minutes=30,
            ))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def peak_rss_kib(count: int, out: Path) -> int:
    """Peak RSS of a fresh interpreter that writes count pages."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_SCRIPT, str(count), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(done.stdout.strip().splitlines()[-1])


def test_pdf_memory_does_not_grow_with_page_count(tmp_path: Path) -> None:
    small = peak_rss_kib(200, tmp_path / "small.pdf")
    large = peak_rss_kib(2000, tmp_path / "large.pdf")
    assert len(pdfium.PdfDocument(tmp_path / "large.pdf")) == 2000
    assert large - small < 30 * 1024, f"peak RSS grew {(large - small) / 1024:.1f} MiB for 1,800 more pages"
