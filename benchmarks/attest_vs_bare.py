"""Wall time of `attest` (warm image) against a bare run of the same image and flags,
on Docker and on runc, and the harness's own time inside the container.

The bare runs get what attest gives its runtime: the same input and output directories
(``attest.prepare_dirs``), the same ``docker run`` argv with the same client environment,
the same runc bundle (``render/runc.py``), and their exit code must be 0 (a PASS). Only the
runtime's client is timed for them; attest is timed whole, from the call to its return
(engine checks, image check, directories, run, cleanup, merge, verify, files written).

Bare runs and attests alternate, so drift on this shared machine hits both. Measured in
one run, medians of N repetitions, printed as ratios with their spread (the ratio of each
interleaved pair: median, min, max). Compare ratios from the same run, not absolute numbers
across runs.

    .venv/bin/python benchmarks/attest_vs_bare.py [--reps N] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sandproof import attest, image, outdir, plan, profile, verify
from sandproof.render import docker, podman, runc
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import NO_MUTATION, Seccomp
from sandproof.runtime.podman import Podman
from sandproof.weaken.core import replaced

RUN_DATE = "2026-11-28"
SETTLE_S = 0.3
"""A pause before each timed run: the engine still tidies up after a container it reported
removed, and whichever run came right after another paid for it (attest always followed a
bare run at once, a bare run followed attest's own work after its run)."""


def _dirs(work: Path, prof: profile.Profile, runtime: str) -> tuple[Path, outdir.Staging]:
    return attest.prepare_dirs(work, plan.compiled(prof, runtime), prof, NO_MUTATION)


def bare_docker(prof: profile.Profile, img: image.Image) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-docker-"))
    in_dir, staging = _dirs(work, prof, "docker")
    try:
        sc = work / prof.seccomp.file_name
        sc.write_bytes(Seccomp.render(prof).text)
        argv = docker.argv(
            prof,
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            seccomp_file=str(sc),
            run_date=RUN_DATE,
            image_ref=img.image_id,
        )
        (work / "docker-config").mkdir()
        env = {**docker.env(prof, dict(os.environ)), "DOCKER_CONFIG": str(work / "docker-config")}
        Docker().prepare(img)  # untimed, as attest's own check: other users of the engine swap the tag
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        return time.perf_counter() - t0
    finally:
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


def bare_runc(prof: profile.Profile, rootfs: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-runc-"))
    in_dir, staging = _dirs(work, prof, "runc")
    cid = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        cfg = runc.config(prof, in_dir=str(in_dir), out_dir=str(staging.path), run_date=RUN_DATE, container_id=cid)
        cfg["root"]["path"] = str(rootfs)
        bundle = work / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_bytes(runc.config_bytes(cfg))
        t0 = time.perf_counter()
        subprocess.run(runc.argv(bundle, cid), capture_output=True, check=True)
        return time.perf_counter() - t0
    finally:
        subprocess.run(["runc", "--root", runc.STATE_ROOT, "delete", "--force", cid], capture_output=True, check=False)
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


def bare_podman(prof: profile.Profile, img: image.Image) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-podman-"))
    in_dir, staging = _dirs(work, prof, "podman")
    rt = Podman()
    try:
        sc = work / prof.seccomp.file_name
        sc.write_bytes(Seccomp.render(prof).text)
        argv = podman.argv(
            prof,
            engine=rt.engine(),
            in_dir=str(in_dir),
            out_dir=str(staging.path),
            seccomp_file=str(sc),
            run_date=RUN_DATE,
            image_ref=img.image_id,
        )
        rt.prepare(img)  # untimed, as attest's own check
        env = podman.env(prof, rt.env(dict(os.environ)))
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        return time.perf_counter() - t0
    finally:
        outdir.remove(staging)
        subprocess.run(["rm", "-rf", str(work)], check=True)


JUDGED: list[float] = []
"""Seconds attest spent in the verifier (schema check and verify) per run: the part of its time
outside the run that the verifier's own speed decides."""


def _timed_judging() -> None:
    real = attest.judged  # measured, not changed

    def judged(bundle: dict[str, Any], claim: profile.Profile, ev_name: str) -> verify.Report:
        t0 = time.perf_counter()
        try:
            return real(bundle, claim, ev_name)
        finally:
            JUDGED.append(time.perf_counter() - t0)

    attest.judged = judged  # measured, not changed


def attested(prof: profile.Profile, runtime: str, img: image.Image) -> tuple[float, float]:
    if runtime == "docker":
        Docker().prepare(img)  # untimed, as for the bare run
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = attest.attest(prof, runtime=runtime, out=Path(tmp), run_date=RUN_DATE)
        elapsed = time.perf_counter() - t0
        assert result.report.verdict == "PASS", "benchmark needs a passing sandbox"
        inside = json.loads((Path(tmp) / "sandbox-attestation-inside.json").read_text())
        return elapsed, float(inside["harness"]["duration_ms"])


def cli(runtime: str) -> float:
    """``sandproof attest`` as a user runs it: a fresh interpreter, its imports included."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "sandproof", "attest", "--runtime", runtime, "--out", tmp, "--run-date", RUN_DATE]
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--cli", action="store_true", help="also time `sandproof attest` as a process of its own")
    ap.add_argument("--runtimes", nargs="+", default=["docker", "runc"], choices=("docker", "runc", "podman"))
    args = ap.parse_args()
    # the default profile under a tag of this benchmark's own: other users of a shared engine
    # load their builds under the default tag, and attest would then time a `docker load`
    prof = replaced(profile.load("default"), "image", name=f"sandproof/bench:{os.getpid()}")
    img = image.build(prof)
    image.ensure_docker(img)
    rootfs = image.rootfs(img)
    for runtime in args.runtimes:  # warm everything once: page cache, the engine, imports
        attested(prof, runtime, img)
    _timed_judging()
    bare_of = {
        "docker": lambda: bare_docker(prof, img),
        "runc": lambda: bare_runc(prof, rootfs),
        "podman": lambda: bare_podman(prof, img),
    }
    for runtime in args.runtimes:
        JUDGED.clear()
        bare, full, harness, process = [], [], [], []
        for _ in range(args.reps):
            time.sleep(SETTLE_S)
            bare.append(bare_of[runtime]())
            time.sleep(SETTLE_S)
            wall, inside_ms = attested(prof, runtime, img)
            full.append(wall)
            harness.append(inside_ms)
            if args.cli:
                process.append(cli(runtime))
        b, a, h = statistics.median(bare), statistics.median(full), statistics.median(harness)
        pairs = [x / y for x, y in zip(full, bare, strict=True)]
        print(
            f"{runtime:6}  bare run {b * 1000:6.0f} ms   attest {a * 1000:6.0f} ms   "
            f"ratio {a / b:4.2f}x (aim <= 1.05x; pairs {min(pairs):4.2f}-{max(pairs):4.2f}, "
            f"median {statistics.median(pairs):4.2f})   harness inside {h:5.1f} ms (aim <= 150 ms)"
        )
        j = statistics.median(JUDGED)
        print(f"{'':6}  attest minus bare {(a - b) * 1000:5.1f} ms, of which the verifier {j * 1000:5.1f} ms")
        if process:
            c = statistics.median(process)
            print(f"{'':6}  `sandproof attest` as a process {c * 1000:6.0f} ms   ratio {c / b:4.2f}x (imports too)")
    print(f"reps={args.reps}, medians; image {img.image_id[:19]}")
    subprocess.run(["docker", "image", "rm", prof.image.name], capture_output=True, check=False)  # the tag only


if __name__ == "__main__":
    main()
