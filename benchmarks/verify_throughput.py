"""Verify throughput: bundles per second on one core, against plain ``json.loads`` of the same files.

What it measures: the Docker and runc default PASS bundles recorded from real runs
(tests/assets/bundles/docker-default-pass.json and runc-default-pass.json), each copied
``--copies`` times into a temporary directory, then, in this one process pinned to one CPU,
over every copy:

- verify: read + size bound + strict JSON (duplicate keys, NaN, depth refused) + schema
  (typed) + sha256 of the bytes + every verdict recomputed + cross-checks + provenance +
  matrix (``verify.verify_file``, as ``sandproof verify DIR`` does for each file);
- json.loads: ``Path.read_bytes`` + the stdlib's plain ``json.loads`` (no strictness at all);
- orjson.loads: ``Path.read_bytes`` + ``orjson.loads`` alone, the floor of any verify built on it;
- read+typed: what verify does before it judges anything (the bounded read, sha256 of the
  bytes, strict JSON with the duplicate-key check, the typed bundle): its ceiling.

Passes alternate for ``--rounds`` rounds; the median of each is printed, from CPU time of
this process (the machine is shared: wall time would count other people's work) and, for
reference, from wall time. Nothing is cached per file: each copy is read and judged as if
it were new; only what the profile and the runtime derive (plan, expectations, seccomp
hash, image ID) is shared, as in a directory run. Issue 10 asks for verify >= 3,000
bundles/s on one core and >= 40% of json.loads on the same files.

    .venv/bin/python benchmarks/verify_throughput.py [--copies N] [--rounds R]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from sandproof import bundle, profile, verify
from sandproof.inspector.wire import Verdict

ASSETS = Path(__file__).resolve().parent.parent / "tests" / "assets" / "bundles"
MEASURED = ("docker-default-pass", "runc-default-pass")
CHECKED = {**dict.fromkeys(MEASURED, Verdict.PASS), "docker-weak-host-network": Verdict.FAIL}
TARGET_PER_S, TARGET_RATIO = 3_000, 0.40


def _rates(paths: list[Path], one: Callable[[Path], object]) -> tuple[float, float]:
    """(bundles per CPU second, bundles per wall second)."""
    c0, w0 = time.process_time(), time.perf_counter()
    for p in paths:
        one(p)
    return len(paths) / (time.process_time() - c0), len(paths) / (time.perf_counter() - w0)


def _read_typed(path: Path) -> object:
    raw = bundle.read_bytes(path)
    return hashlib.sha256(raw).hexdigest(), bundle.decode(raw, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=200, help="copies of each measured bundle (default 200)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})  # one core
    prof = profile.load("default")
    got = {n: verify.verify_file(ASSETS / f"{n}.json", prof).verdict for n in CHECKED}  # derive once
    assert got == CHECKED, got
    passes: dict[str, Callable[[Path], object]] = {
        "verify": lambda p: verify.verify_file(p, prof),
        "json.loads": lambda p: json.loads(p.read_bytes()),
        "orjson.loads": lambda p: orjson.loads(p.read_bytes()),
        "read+typed": _read_typed,
    }
    cpu_rates: dict[str, list[float]] = {k: [] for k in passes}
    wall_rates: dict[str, list[float]] = {k: [] for k in passes}
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.copies):
            for name in MEASURED:
                dest = Path(tmp) / f"{i:05d}-{name}.json"
                shutil.copyfile(ASSETS / f"{name}.json", dest)
                paths.append(dest)
        for _ in range(args.rounds):
            for k, one in passes.items():
                c, w = _rates(paths, one)
                cpu_rates[k].append(c)
                wall_rates[k].append(w)
    rate = {k: statistics.median(v) for k, v in cpu_rates.items()}
    wall = {k: statistics.median(v) for k, v in wall_rates.items()}
    size = sum((ASSETS / f"{n}.json").stat().st_size for n in MEASURED) / len(MEASURED) / 1024
    probes = sum(len(json.loads((ASSETS / f"{n}.json").read_bytes())["probes"]) for n in MEASURED) / len(MEASURED)
    print(
        f"{len(paths)} files: {args.copies} copies each of {', '.join(f'{n}.json' for n in MEASURED)} "
        f"(avg {size:.0f} KiB, {probes:.0f} probes); one process pinned to CPU {cpu}; "
        f"median of {args.rounds} rounds, CPU time (wall time in brackets)"
    )
    for k in passes:
        us = 1e6 / rate[k]
        print(f"{k:13} {rate[k]:8,.0f} bundles/s  {us:6,.0f} us each  [{wall[k]:,.0f}/s wall]")
    v, j = rate["verify"], rate["json.loads"]
    print(f"verify / json.loads:   {v / j:6.0%}  (aim >= {TARGET_RATIO:.0%})")
    print(f"verify / {TARGET_PER_S:,} per s: {v / TARGET_PER_S:6.0%}  (aim >= 100%)")
    print(f"orjson.loads alone / {TARGET_PER_S:,} per s: {rate['orjson.loads'] / TARGET_PER_S:.0%} (parsing's ceiling)")
    typed = rate["read+typed"]
    print(f"read+typed / {TARGET_PER_S:,} per s: {typed / TARGET_PER_S:.0%} (verify's ceiling, judging nothing)")
    print(f"read+typed / json.loads:  {typed / j:.0%}; judging is {1 - v / typed:.0%} of a verify")


if __name__ == "__main__":
    main()
