"""Wall time of `sandproof --help` (interpreter start, imports, parser), median of N runs.

.venv/bin/python benchmarks/cli_help.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SANDPROOF = Path(sys.executable).with_name("sandproof")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    reps = ap.parse_args().reps
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([str(SANDPROOF), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    bare = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bare.append(time.perf_counter() - t0)
    h, b = statistics.median(times) * 1000, statistics.median(bare) * 1000
    print(f"sandproof --help {h:5.1f} ms (aim <= 100 ms); bare python {b:5.1f} ms; reps={reps}, medians")


if __name__ == "__main__":
    main()
