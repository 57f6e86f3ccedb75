"""Wall time of the whole pytest suite as scripts/test.sh runs it (parallel workers, the engine
tests grouped per runtime), with the CPU it took and how busy the machine was meanwhile.

The CPU is the test processes' own (the workers and what they reaped: runc and its
containers, the docker CLI); Docker's containers run under containerd and are not in it.
The load average (1 min) is sampled every 10 s: on a shared machine a wall time means
little without it. Arguments after ``--`` go to pytest (default: the whole suite).

    .venv/bin/python benchmarks/suite_time.py [--workers N] [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="auto", help="pytest-xdist workers (default: one per core)")
    args, rest = parser.parse_known_args(argv)
    pytest_args = [a for a in rest if a != "--"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", args.workers, "--dist", "loadgroup"]
    samples = [_load()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(10.0):
            samples.append(_load())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    proc = subprocess.run([*cmd, *pytest_args], cwd=ROOT, check=False)
    wall = time.monotonic() - start
    done.set()
    samples.append(_load())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"suite: exit {proc.returncode}, wall {wall:.1f} s ({int(wall // 60)}:{wall % 60:04.1f})")
    print(f"cpu: {usage.ru_utime:.1f} s user + {usage.ru_stime:.1f} s system in the test processes")
    print(
        f"load (1 min, {os.cpu_count()} cpus): start {samples[0]:.2f}, mean {sum(samples) / len(samples):.2f}, "
        f"max {max(samples):.2f}, end {samples[-1]:.2f}"
    )
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
