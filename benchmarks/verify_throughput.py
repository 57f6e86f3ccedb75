"""Verify throughput: bundles per second on one core, against plain ``json.loads`` of the same files.

Copies the real bundles recorded from Docker and runc runs (tests/assets/bundles) into a
directory N times, then times, in this one process (one core), over every file:

- verify: read + strict JSON + schema + every verdict recomputed + provenance + matrix;
- json.loads: read + the stdlib's plain ``json.loads`` (no strictness at all).

The two passes alternate for a few rounds and the median of each is printed, with the
ratio (issue 10 asks for verify >= 40% of json.loads). Nothing is cached per file: each
copy is read and judged as if it were new (only the profile's derivation is shared, as in
a directory run).

    .venv/bin/python benchmarks/verify_throughput.py [--copies N] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sandproof import bundle, profile, verify
from sandproof.inspector.wire import Verdict

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets" / "bundles"
REAL = ("docker-default-pass", "runc-default-pass", "docker-weak-host-network", "runc-weak-exec-allowed")
# issue 10's target, stated for bundles of 30 probes and 47 KiB
TARGET_PER_S, TARGET_PROBES, TARGET_KIB = 3_000, 30, 47


def _rate(paths: list[Path], one: Callable[[Path], object]) -> float:
    t0 = time.perf_counter()
    for p in paths:
        one(p)
    return len(paths) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    prof = profile.load("default")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.copies):
            for name in REAL:
                dest = Path(tmp) / f"{i:05d}-{name}.json"
                shutil.copyfile(ASSETS / f"{name}.json", dest)
                paths.append(dest)
        verdicts = [verify.verify_file(p, prof).verdict for p in paths[: len(REAL)]]  # derive the profile once
        loads, verifies = [], []
        for _ in range(args.rounds):
            loads.append(_rate(paths, lambda p: json.loads(bundle.read_bytes(p))))
            verifies.append(_rate(paths, lambda p: verify.verify_file(p, prof)))
    size = sum((ASSETS / f"{n}.json").stat().st_size for n in REAL) / len(REAL) / 1024
    probes = sum(len(json.loads((ASSETS / f"{n}.json").read_bytes())["probes"]) for n in REAL) / len(REAL)
    v, j = statistics.median(verifies), statistics.median(loads)
    print(f"{len(paths)} bundles (avg {size:.0f} KiB, {probes:.0f} probes), median of {args.rounds} rounds, one core")
    print(f"verify:     {v:8,.0f} bundles/s  ({v * probes:,.0f} probes/s, {v * size / 1024:.1f} MiB/s)")
    print(f"json.loads: {j:8,.0f} bundles/s  ({j * size / 1024:.1f} MiB/s)")
    print(f"ratio verify/json.loads: {v / j:.0%} (aim >= 40%)")
    print(
        f"issue 10's aim, {TARGET_PER_S:,}/s for {TARGET_PROBES}-probe {TARGET_KIB} KiB bundles, is "
        f"{TARGET_PER_S * TARGET_PROBES / probes:,.0f}/s at these bundles' probe count and "
        f"{TARGET_PER_S * TARGET_KIB / size:,.0f}/s at their size"
    )
    print(f"verdicts of the four: {', '.join(verdicts)} (expected PASS, PASS, FAIL, FAIL)")
    assert verdicts == [Verdict.PASS, Verdict.PASS, Verdict.FAIL, Verdict.FAIL]


if __name__ == "__main__":
    main()
