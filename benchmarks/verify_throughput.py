"""Verify throughput: bundles per second on one core, schema checks included.

Copies the real bundles recorded from Docker and runc runs (tests/assets/bundles) into a
directory N times, then times read + strict JSON + JSON Schema + full verification of
every file, in this one process (one core).

    .venv/bin/python benchmarks/verify_throughput.py [--copies N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from sandproof import profile, verify

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets" / "bundles"
REAL = ("docker-default-pass", "runc-default-pass", "docker-weak-host-network", "runc-weak-exec-allowed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=500)
    args = ap.parse_args()
    prof = profile.load("default")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.copies):
            for name in REAL:
                dest = Path(tmp) / f"{i:05d}-{name}.json"
                shutil.copyfile(ASSETS / f"{name}.json", dest)
                paths.append(dest)
        verify.verify_file(paths[0], prof)  # derive the profile's expectations once, as a directory run does
        t0 = time.perf_counter()
        verdicts = [verify.verify_file(p, prof).verdict for p in paths]
        elapsed = time.perf_counter() - t0
    size = sum((ASSETS / f"{n}.json").stat().st_size for n in REAL) / len(REAL)
    print(
        f"{len(paths)} bundles (avg {size / 1024:.0f} KiB) in {elapsed:.2f} s: {len(paths) / elapsed:,.0f} bundles/s "
        f"(aim >= 5,000/s); {verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL"
    )


if __name__ == "__main__":
    main()
