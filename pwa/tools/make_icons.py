"""Draw the resident PWA's icons (192 and 512 px, a maskable 512 px, the 180 px apple-touch-icon) with Pillow.

Run from the repository root: `.venv/bin/python pwa/tools/make_icons.py`. The PNGs are committed; run this
again only to change them. The glyph is 码 ("code") in WenQuanYi Micro Hei, which the repository ships.
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "pwa" / "resident"
FONT = ROOT / "app" / "fonts" / "wqy-microhei.ttf"
BRAND = (163, 34, 26)
PAPER = (255, 253, 248)
SCALE = 4  # draw large, then shrink: smooth edges without anti-aliasing support in ImageDraw


def draw(size: int, *, full_bleed: bool, glyph_share: float) -> Image.Image:
    """A red tile with a white 码; full_bleed fills the square (maskable, Apple), else a rounded square."""
    big = size * SCALE
    image = Image.new("RGBA" if not full_bleed else "RGB", (big, big), (0, 0, 0, 0) if not full_bleed else BRAND)
    pen = ImageDraw.Draw(image)
    if not full_bleed:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=int(big * 0.22), fill=BRAND)
    font = ImageFont.truetype(str(FONT), int(big * glyph_share))
    box = pen.textbbox((0, 0), "码", font=font)
    x = (big - (box[2] - box[0])) / 2 - box[0]
    y = (big - (box[3] - box[1])) / 2 - box[1]
    pen.text((x, y), "码", font=font, fill=PAPER)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def save(image: Image.Image, name: str) -> None:
    path = OUT / name
    # Two colours and their blends: a 32-colour palette looks the same and is a third of the bytes.
    method = Image.Quantize.FASTOCTREE if image.mode == "RGBA" else Image.Quantize.MEDIANCUT
    image.quantize(colors=32, method=method).save(path, "PNG", optimize=True)
    print(f"{path.relative_to(ROOT)}: {image.size[0]}x{image.size[1]}, {path.stat().st_size} bytes")


def main() -> None:
    save(draw(192, full_bleed=False, glyph_share=0.62), "icon-192.png")
    save(draw(512, full_bleed=False, glyph_share=0.62), "icon-512.png")
    # Maskable: the launcher may crop to a circle of 80% diameter, so the glyph stays well inside it.
    save(draw(512, full_bleed=True, glyph_share=0.46), "icon-maskable-512.png")
    # iOS draws its own rounded corners and shows transparency as black: a full, opaque square.
    save(draw(180, full_bleed=True, glyph_share=0.58), "apple-touch-icon.png")


if __name__ == "__main__":
    main()
