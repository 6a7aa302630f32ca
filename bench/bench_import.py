"""Import a Lanzhou-sized grid file (118 streets, 1,184 communities, 8,447 grids) and export all its posters.

Runs the real command line (`mashang grids import`, `mashang qr export`) on a fresh SQLite database (and
Postgres with --backend postgres), and prints seconds per step and peak memory of the PDF export.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MASHANG = str(BIN / "mashang")
HEADER = "code,name,level,parent_code,contact_name,contact_phone,backup_name,backup_phone,office_phone\n"


def lanzhou_file(path: Path, streets: int = 118, communities: int = 1184, grids: int = 8447) -> None:
    """A grid file of Lanzhou's size, with real-looking Chinese names and phones."""
    rows = [HEADER]
    for s in range(streets):
        rows.append(f"LZ{s:03d},兰州市第{s + 1}街道,street,,街道主任{s},1390{s:07d},,,\n")
    for c in range(communities):
        rows.append(f"LZ{c % streets:03d}-C{c:04d},第{c + 1}社区,community,LZ{c % streets:03d},书记{c},"
                    f"1370{c:07d},,,0931{8000000 + c:07d}\n")
    for g in range(grids):
        c = g % communities
        parent = f"LZ{c % streets:03d}-C{c:04d}"
        backup = f"备岗{g},1350{g:07d}" if g % 5 == 0 else ","
        rows.append(f"{parent}-G{g:04d},第{c + 1}社区第{g // communities + 1}网格,grid,{parent},网格员{g},"
                    f"1360{g:07d},{backup},\n")
    path.write_text("".join(rows), encoding="utf-8")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds a command took and the peak RSS (KB) of the children so far."""
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--skip-png", action="store_true", help="only the PDF export")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mashang-bench-import-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "MASHANG_ENV": "test", "MASHANG_SCHEDULER": "off"}
        pg_url = None
        if args.backend == "postgres":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from common import create_pg_database, pg_admin_url

            pg_url = create_pg_database(pg_admin_url(), prefix="mashang_bench_import")
            env["MASHANG_DATABASE_URL"] = pg_url
        else:
            env["MASHANG_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"
        try:
            grid_file = work / "lanzhou.csv"
            lanzhou_file(grid_file)
            subprocess.run([MASHANG, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
            first, _ = timed([MASHANG, "grids", "import", str(grid_file)], env)
            second, _ = timed([MASHANG, "grids", "import", str(grid_file)], env)
            results = [("import 9,749 rows (first)", first), ("import again (no change)", second)]
            if not args.skip_png:
                png, _ = timed([MASHANG, "qr", "export", "--out", str(work / "png")], env)
                results.append(("export 8,447 PNG posters (2 processes)", png))
            pdf, peak_kb = timed([MASHANG, "qr", "export", "--out", str(work / "pdf"), "--format", "pdf"], env)
            size_mb = (work / "pdf" / "all.pdf").stat().st_size / 1e6
            results.append((f"export one 8,447-page PDF ({size_mb:.0f} MB)", pdf))
        finally:
            if pg_url:
                from common import drop_pg_database, pg_admin_url

                drop_pg_database(pg_admin_url(), pg_url)
    print(f"\nGrid import and poster export ({args.backend})")
    for name, seconds in results:
        print(f"  {name:<45} {seconds:7.1f} s")
    print(f"  peak RSS of any command                      {peak_kb / 1024:7.0f} MB")


if __name__ == "__main__":
    main()
