"""Lighthouse 12 on the resident pages, mobile settings, in Debian's Chromium.

Starts `mashang serve` on a temporary SQLite database with the demo city, runs Lighthouse (its default:
a mid-range phone with simulated slow 4G and a 4x slower CPU) on the report page /g/{token} a few times
and on a tracking page once, and prints the category scores (the median run for the report page).
Exits non-zero when the report page scores under 90 for performance or under 95 for accessibility.

    make bench-lighthouse          # installs Lighthouse (npm ci, with optional packages), then runs this
    .venv/bin/python bench/bench_lighthouse.py --runs 5
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO_DIR, mashang_server, prepare_database, report_body, server_env  # noqa: E402

LIGHTHOUSE = REPO_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
           "speed-index", "interactive")
THRESHOLDS = {"performance": 90, "accessibility": 95}


def lighthouse(url: str, out: Path) -> dict:
    """One Lighthouse run; the JSON report."""
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"Lighthouse is not installed at {LIGHTHOUSE}: run `npm ci` (or make bench-lighthouse)")
    argv = ["node", str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
            f"--only-categories={','.join(CATEGORIES)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"]
    done = subprocess.run(argv, env={**os.environ, "CHROME_PATH": CHROME}, capture_output=True, text=True,
                          timeout=240)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"lighthouse failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def scores(report: dict) -> dict[str, int]:
    return {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}


def metrics(report: dict) -> dict[str, str]:
    return {name: report["audits"][name]["displayValue"] for name in METRICS}


def failing_audits(report: dict, category: str) -> list[str]:
    refs = report["categories"][category]["auditRefs"]
    return [ref["id"] for ref in refs if ref["weight"] and (report["audits"][ref["id"]]["score"] or 0) < 1]


def show(title: str, report: dict) -> None:
    print(f"\n{title}")
    print("  " + "  ".join(f"{name} {score}" for name, score in scores(report).items()))
    print("  " + ", ".join(f"{name} {value}" for name, value in metrics(report).items()))
    for category in ("performance", "accessibility"):
        failing = failing_audits(report, category)
        if failing:
            print(f"  {category} audits not passed: {', '.join(failing)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs on the report page (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mashang-lighthouse-") as tmp:
        workdir = Path(tmp)
        env = server_env(f"sqlite:///{workdir / 'mashang.db'}", workdir=workdir)
        token = prepare_database(env, workdir=workdir)
        server = mashang_server(env, workdir=workdir)
        env["MASHANG_PUBLIC_URL"] = server.url
        server.env = env
        with server.start():
            report_page = f"{server.url}/g/{token}"
            runs = [lighthouse(report_page, workdir / f"grid-{n}.json") for n in range(args.runs)]
            runs.sort(key=lambda r: scores(r)["performance"])
            median = runs[len(runs) // 2]
            print(f"Lighthouse {median['lighthouseVersion']}, {median['configSettings']['formFactor']}, "
                  f"{median['environment']['hostUserAgent'].split(') ')[-1]}")
            show(f"Report page {report_page} (median of {len(runs)}; performance "
                 f"{[scores(r)['performance'] for r in runs]})", median)
            created = httpx.post(f"{server.url}/api/v1/reports", json=report_body(token), timeout=10).json()
            track = lighthouse(f"{server.url}/t/{created['tracking_code']}", workdir / "track.json")
            show(f"Tracking page /t/{created['tracking_code']}", track)
    result = scores(median)
    low = {name: result[name] for name, floor in THRESHOLDS.items() if result[name] < floor}
    print(f"\n{'FAIL' if low else 'PASS'}: report page performance {result['performance']} (>= 90), "
          f"accessibility {result['accessibility']} (>= 95)")
    return 1 if low else 0


if __name__ == "__main__":
    raise SystemExit(main())
