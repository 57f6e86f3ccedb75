"""Wall time of the whole pytest suite as scripts/test.sh runs it (parallel workers, the engine
tests grouped per runtime), with the CPU it took and how busy the machine was meanwhile.

The CPU is the test processes' own (the workers and what they reaped: runc and its
containers, the docker CLI), then Docker's side apart: its containers (the cpuacct
cgroup ``docker``, cgroup v1) and dockerd and containerd themselves; that side counts
every client of the engine, so on a shared machine it holds others' runs too. The load
average (1 min) is sampled every 10 s: on a shared machine a wall time means little
without it. Arguments after ``--`` go to pytest (default: the whole suite).

    .venv/bin/python benchmarks/suite_time.py [--workers N] [-- PYTEST_ARGS...]

The workers default to scripts/test.sh's (``SANDPROOF_TEST_WORKERS``, else 3), not one per
core: the time printed is the time of the suite as the test command runs it.
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


def _engine_cpu() -> dict[str, float]:
    """CPU seconds so far of Docker's containers (cgroup v1 cpuacct) and of its daemons."""
    out: dict[str, float] = {}
    usage = Path("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage")
    if usage.is_file():
        out["containers"] = int(usage.read_text()) / 1e9
    tick = os.sysconf("SC_CLK_TCK")
    for name in ("dockerd", "containerd"):
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                comm, rest = stat.read_text().split(") ", 1)
            except (OSError, ValueError):
                continue
            if comm.split(" (", 1)[-1] == name:
                fields = rest.split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (proc(5))
        out[name] = total
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers",
        default=os.environ.get("SANDPROOF_TEST_WORKERS", "3"),
        help="pytest-xdist workers (default: scripts/test.sh's, 3)",
    )
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
    engine0 = _engine_cpu()
    start = time.monotonic()
    proc = subprocess.run([*cmd, *pytest_args], cwd=ROOT, check=False)
    wall = time.monotonic() - start
    engine1 = _engine_cpu()
    done.set()
    samples.append(_load())
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"suite: exit {proc.returncode}, wall {wall:.1f} s ({int(wall // 60)}:{wall % 60:04.1f})")
    print(f"cpu: {usage.ru_utime:.1f} s user + {usage.ru_stime:.1f} s system in the test processes")
    print(
        "cpu, Docker's side (every client's): "
        + ", ".join(f"{k} {engine1[k] - v:.1f} s" if k in engine1 else f"{k} n/a" for k, v in engine0.items())
    )
    print(
        f"load (1 min, {os.cpu_count()} cpus): start {samples[0]:.2f}, mean {sum(samples) / len(samples):.2f}, "
        f"max {max(samples):.2f}, end {samples[-1]:.2f}"
    )
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
