"""Wall time of `attest` (warm image) against a bare run of the same image and flags,
on Docker and on runc, and the harness's own time inside the container.

Measured in one run, medians of N repetitions, printed as ratios. These machines are
shared and noisy: compare ratios from the same run, not absolute numbers across runs.

    .venv/bin/python benchmarks/attest_vs_bare.py [--reps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from sandproof import attest, image, plan, profile, seccomp
from sandproof.render import docker, oci
from sandproof.runtime.runc import STATE_ROOT

RUN_DATE = "2026-11-28"


def _dirs(work: Path, prof: profile.Profile, runtime: str) -> tuple[Path, Path]:
    in_dir, out_dir = work / "in", work / "out"
    in_dir.mkdir()
    out_dir.mkdir()
    (in_dir / plan.PLAN_NAME).write_text(json.dumps(plan.build(prof, runtime)))
    subprocess.run(["chown", f"{prof.user.uid}:{prof.user.gid}", str(out_dir)], check=True)
    return in_dir, out_dir


def bare_docker(prof: profile.Profile) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        in_dir, out_dir = _dirs(work, prof, "docker")
        sc = work / "seccomp.json"
        sc.write_bytes(seccomp.render(prof))
        argv = docker.argv(prof, in_dir=str(in_dir), out_dir=str(out_dir), seccomp_file=str(sc), run_date=RUN_DATE)
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        return time.perf_counter() - t0


def bare_runc(prof: profile.Profile, rootfs: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        in_dir, out_dir = _dirs(work, prof, "runc")
        cid = f"bench-{uuid.uuid4().hex[:8]}"
        cfg = oci.config(prof, in_dir=str(in_dir), out_dir=str(out_dir), run_date=RUN_DATE, cgroup=f"/sandproof/{cid}")
        cfg["root"]["path"] = str(rootfs)
        bundle = work / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(cfg))
        t0 = time.perf_counter()
        subprocess.run(
            ["runc", "--root", STATE_ROOT, "run", "--bundle", str(bundle), cid], capture_output=True, check=True
        )
        elapsed = time.perf_counter() - t0
        subprocess.run(["runc", "--root", STATE_ROOT, "delete", "--force", cid], capture_output=True, check=False)
        return elapsed


def attested(prof: profile.Profile, runtime: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = attest.attest(prof, runtime=runtime, out=Path(tmp), run_date=RUN_DATE)
        elapsed = time.perf_counter() - t0
        assert result.report.verdict == "PASS", "benchmark needs a passing sandbox"
        inside = json.loads((Path(tmp) / "sandbox-attestation-inside.json").read_text())
        return elapsed, float(inside["harness"]["duration_ms"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    prof = profile.load("default")
    img = image.build(prof)
    image.ensure_docker(img)
    rootfs = image.rootfs(img)
    attested(prof, "docker")  # warm everything once
    rows = []
    for runtime in ("docker", "runc"):
        bare, full, harness = [], [], []
        for _ in range(args.reps):
            bare.append(bare_docker(prof) if runtime == "docker" else bare_runc(prof, rootfs))
            wall, inside_ms = attested(prof, runtime)
            full.append(wall)
            harness.append(inside_ms)
        b, a, h = statistics.median(bare), statistics.median(full), statistics.median(harness)
        rows.append((runtime, b, a, h))
        print(
            f"{runtime:6}  bare run {b * 1000:7.0f} ms   attest {a * 1000:7.0f} ms   "
            f"ratio {a / b:4.2f}x (aim <= 1.05x)   harness inside {h:5.1f} ms (aim <= 150 ms)"
        )
    print(f"reps={args.reps}, medians; image {img.image_id[:19]}")


if __name__ == "__main__":
    main()
