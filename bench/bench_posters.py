"""Poster export speed: N posters as PNG files and as one PDF, each format in a fresh process.

Usage: python bench/bench_posters.py [--count 8447] [--out DIR]
No database: it feeds the pure renderers in app.qr.poster with generated posters.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.qr.poster import PdfPosterWriter, Poster, charset_of, render_png

STREETS = ["东岗西路街道", "张掖路街道", "酒泉路街道", "白银路街道", "皋兰路街道", None]
COMMUNITIES = ["兰州路社区", "庆阳路社区", "民主西路社区", "小稍门外社区", "铁路新村社区", "雁滩家园社区"]
NUMERALS = "一二三四五六七八九十"
TOKEN_CHARS = string.ascii_letters + string.digits


def sample_posters(count: int, seed: int = 8447) -> list[Poster]:
    """Deterministic, realistic posters: 22-character tokens, mixed name lengths, some without phone."""
    rng = random.Random(seed)
    posters = []
    for i in range(count):
        community = rng.choice(COMMUNITIES)
        number = NUMERALS[i % 10] if i % 3 else f"{i % 97 + 1}"
        phone = None if i % 10 == 0 else f"0931-{rng.randrange(8_000_000, 9_000_000)}"
        posters.append(
            Poster(
                url="http://127.0.0.1:8000/g/" + "".join(rng.choices(TOKEN_CHARS, k=22)),
                grid_code=f"GD-620102-{i // 100:03d}-{i % 100:02d}",
                grid_name=f"{community}第{number}网格" + ("（含农贸市场及临街商铺）" if i % 7 == 0 else ""),
                community_name=community,
                street_name=rng.choice(STREETS),
                office_phone=phone,
                sla_minutes=30,
            )
        )
    return posters


def run_phase(fmt: str, count: int, out: Path) -> dict[str, float]:
    """Render count posters in one format inside this process and measure it."""
    posters = sample_posters(count)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if fmt == "png":
        for i, poster in enumerate(posters):
            render_png(poster, out / f"poster-{i:05d}.png")
        size = sum(p.stat().st_size for p in out.iterdir())
    else:
        pdf = out / "posters.pdf"
        with PdfPosterWriter(pdf, charset_of(posters)) as writer:
            for poster in posters:
                writer.add(poster)
        size = pdf.stat().st_size
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "bytes": size, "peak_rss_mib": peak_kib / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8447, help="posters to render (default 8447)")
    parser.add_argument("--out", type=Path, help="keep output here instead of a removed temp dir")
    parser.add_argument("--phase", choices=["png", "pdf"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(run_phase(args.phase, args.count, args.out)))
        return

    workdir = args.out or Path(tempfile.mkdtemp(prefix="mashang-posters-"))
    rows = []
    try:
        # A fresh interpreter per format, so each peak RSS belongs to that format alone.
        for fmt in ("pdf", "png"):
            cmd = [sys.executable, __file__, "--phase", fmt, "--count", str(args.count), "--out"]
            done = subprocess.run([*cmd, str(workdir / fmt)], stdout=subprocess.PIPE, text=True, check=True)
            rows.append((fmt, json.loads(done.stdout.strip().splitlines()[-1])))
    finally:
        if args.out is None:
            shutil.rmtree(workdir, ignore_errors=True)

    header = ("format", "posters", "seconds", "posters/s", "bytes/poster", "total MB", "peak RSS MiB")
    print("  ".join(f"{h:>12}" for h in header))
    for fmt, r in rows:
        cells = (
            fmt,
            str(args.count),
            f"{r['seconds']:.1f}",
            f"{args.count / r['seconds']:.0f}",
            f"{r['bytes'] / args.count:,.0f}",
            f"{r['bytes'] / 1e6:.1f}",
            f"{r['peak_rss_mib']:.0f}",
        )
        print("  ".join(f"{c:>12}" for c in cells))


if __name__ == "__main__":
    main()
