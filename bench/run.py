"""Run the benchmarks one after another and print their output (`make bench`).

    .venv/bin/python bench/run.py                 # every benchmark present
    .venv/bin/python bench/run.py --only intake   # one (repeatable)
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# name -> the script and its arguments; a script not (yet) present is reported and skipped.
BENCHMARKS: dict[str, list[str]] = {
    "intake": ["bench_intake.py"],
    "escalation": ["bench_escalation.py"],
    "import": ["bench_import.py", "--skip-png"],
    "posters": ["bench_posters.py", "--count", "8447"],
}
# `make bench-lighthouse` runs bench_lighthouse.py: it needs the optional npm packages (Lighthouse).


def run(name: str) -> int:
    """Run one benchmark with its output going straight to ours; its exit code."""
    script, *arguments = BENCHMARKS[name]
    path = BENCH_DIR / script
    print(f"== {name}: {path.relative_to(BENCH_DIR.parent)} {' '.join(arguments)}".rstrip(), flush=True)
    if not path.exists():
        print(f"   skipped: {path.name} is not there", flush=True)
        return 0
    started = time.monotonic()
    code = subprocess.run([sys.executable, str(path), *arguments], cwd=BENCH_DIR.parent).returncode
    print(f"== {name}: {'done' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f} s\n",
          flush=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description="Run Mashang's benchmarks in turn.")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run just this one (repeatable)")
    args = parser.parse_args()
    codes = [run(name) for name in args.only or BENCHMARKS]
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
