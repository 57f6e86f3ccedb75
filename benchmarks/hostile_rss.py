"""Peak RSS of `attest` while the sandbox floods stdout with 400 MB (aim <= 128 MiB), on
Docker and on runc, next to a honest run's; and what the flood left on the host's disk.

Each figure is a fresh process (ru_maxrss of that process alone; the docker CLI and runc
are its children and not counted).

    PYTHONPATH=src:. .venv/bin/python benchmarks/hostile_rss.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

CHILD = """
import resource, sys, tempfile
from pathlib import Path
from sandproof import attest, profile
from tests import hostile
with tempfile.TemporaryDirectory() as tmp:
    if sys.argv[1] == "honest":
        attest.attest(profile.load("default"), runtime=sys.argv[2], out=Path(tmp), run_date=hostile.RUN_DATE)
    else:
        hostile.run(sys.argv[1], sys.argv[2], Path(tmp))
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
"""


def measure(name: str, runtime: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, name, runtime], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return float(re.findall(r"peak RSS ([\d.]+) MiB", out.stdout)[0]), wall


def main() -> None:
    for runtime in ("docker", "runc"):
        honest, _ = measure("honest", runtime)
        flood, wall = measure("flood-stdout", runtime)
        verdict = "ok" if flood <= 128 else "OVER"
        print(
            f"{runtime:6}  peak RSS honest run {honest:6.1f} MiB   400 MB stdout flood {flood:6.1f} MiB "
            f"(aim <= 128 MiB: {verdict})   flood run {wall:5.1f} s"
        )


if __name__ == "__main__":
    main()
