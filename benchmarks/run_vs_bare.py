"""Wall time of ``sandproof run`` against a bare engine run of the same argv, on Docker and
runc, with the packet-inspector example on its sample input.

The bare runs get what ``run`` gives its runtime: the same rendered ``docker run`` argv (same
seccomp bytes, same client environment with an empty DOCKER_CONFIG) or the same OCI config and
rootfs for runc, the same input directory and a fresh output directory; only the runtime's
client is timed. ``run`` is timed whole, from the call to its return (engine version, image
check, directories and the bounded /out tmpfs, the run, hashing and copying outputs, the
receipt written). The exit code must be the example's 1 in both.

Bare runs and ``run`` alternate, so drift on this shared machine hits both; medians of N
repetitions, printed as ratios with the spread of the interleaved pairs. Compare ratios from
the same run, not absolute numbers across runs.

    .venv/bin/python benchmarks/run_vs_bare.py [--reps N] [--cli]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sandproof import attest, cleanup, image, profile
from sandproof.render import docker as docker_render
from sandproof.render import runc as runc_render
from sandproof.runtime.docker import Docker
from sandproof.runtime.interface import Seccomp
from sandproof.workload import images, rendered, sandbox
from sandproof.workload import run as workrun

SETTLE_S = 0.3
EXAMPLE_IN = images.example_dir() / "in"
DEFAULT = profile.load("default")


def _out(work: Path) -> Path:
    out = work / "out"
    out.mkdir(mode=0o700)
    os.chown(out, DEFAULT.user.uid, DEFAULT.user.gid)
    return out


def bare_docker(img: image.Image, command: list[str]) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-run-docker-"))
    try:
        sc = work / DEFAULT.seccomp.file_name
        sc.write_bytes(Seccomp.render(DEFAULT).text)
        argv = rendered.docker_argv(
            DEFAULT, img.image_id, command, in_dir=str(EXAMPLE_IN), out_dir=str(_out(work)), seccomp_file=str(sc)
        )
        (work / "docker-config").mkdir()
        env = {**docker_render.env(DEFAULT, dict(os.environ)), "DOCKER_CONFIG": str(work / "docker-config")}
        t0 = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, env=env, check=False).returncode
        elapsed = time.perf_counter() - t0
        assert code == 1, f"bare docker run: exit {code}"
        return elapsed
    finally:
        cleanup.remove_tree(work)


def bare_runc(img: image.Image, command: list[str]) -> float:
    work = Path(tempfile.mkdtemp(prefix="bench-run-runc-"))
    cid = f"bench-run-{uuid.uuid4().hex[:8]}"
    try:
        cwd = sandbox.image_config(img).get("WorkingDir") or "/"
        policy = Seccomp.render(DEFAULT).policy
        cfg = rendered.oci_config(
            DEFAULT,
            command,
            in_dir=str(EXAMPLE_IN),
            out_dir=str(_out(work)),
            container_id=cid,
            rootfs="",
            cwd=cwd,
            seccomp_policy=policy,
        )
        cfg["root"]["path"] = str(image.rootfs(img))
        bundle = work / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_bytes(runc_render.config_bytes(cfg))
        t0 = time.perf_counter()
        code = subprocess.run(runc_render.argv(bundle, cid), capture_output=True, check=False).returncode
        elapsed = time.perf_counter() - t0
        assert code == 1, f"bare runc run: exit {code}"
        return elapsed
    finally:
        subprocess.run(
            ["runc", "--root", runc_render.STATE_ROOT, "delete", "--force", cid], capture_output=True, check=False
        )
        cleanup.remove_tree(work)


def sandproof_run(img: image.Image, runtime: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rt = attest.select_runtime(runtime)
        got = workrun.run(DEFAULT, img, runtime=rt, out=Path(tmp) / "o", in_dir=EXAMPLE_IN)
        elapsed = time.perf_counter() - t0
        assert got.exit_code == 1, f"sandproof run: exit {got.exit_code}"
        return elapsed


def cli(runtime: str) -> float:
    """``sandproof run`` as a user runs it: a fresh interpreter, its imports and the image resolve included."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "sandproof", "run", "--image", "example", "--runtime", runtime,
                "--in", str(EXAMPLE_IN), "--out", f"{tmp}/o"]  # fmt: skip
        t0 = time.perf_counter()
        code = subprocess.run(argv, capture_output=True, check=False).returncode
        assert code == 1, f"sandproof run CLI: exit {code}"
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--cli", action="store_true", help="also time `sandproof run` as a process of its own")
    args = ap.parse_args()
    img = images.packet_inspector()
    command = sandbox.command(img)
    Docker().prepare(img)
    for runtime in ("docker", "runc"):  # warm: page cache, engine, imports, the unpacked rootfs
        sandproof_run(img, runtime)
    for runtime in ("docker", "runc"):
        bare, full, process = [], [], []
        for _ in range(args.reps):
            time.sleep(SETTLE_S)
            bare.append(bare_docker(img, command) if runtime == "docker" else bare_runc(img, command))
            time.sleep(SETTLE_S)
            full.append(sandproof_run(img, runtime))
            if args.cli:
                time.sleep(SETTLE_S)
                process.append(cli(runtime))
        b, r = statistics.median(bare), statistics.median(full)
        pairs = [x / y for x, y in zip(full, bare, strict=True)]
        print(
            f"{runtime:6}  bare run {b * 1000:6.0f} ms   sandproof run {r * 1000:6.0f} ms   ratio {r / b:4.2f}x "
            f"(aim <= 1.05x; pairs {min(pairs):4.2f}-{max(pairs):4.2f}, median {statistics.median(pairs):4.2f})"
        )
        if process:
            c = statistics.median(process)
            print(f"{'':6}  `sandproof run` as a process {c * 1000:6.0f} ms   ratio {c / b:4.2f}x (imports too)")
    print(f"reps={args.reps}, medians; image {img.image_id[:19]} (examples/packet-inspector)")


if __name__ == "__main__":
    main()
