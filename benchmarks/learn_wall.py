"""Wall time of ``learn`` on the example workload (N traced runs on runc) against the same
number of untraced runs of the same OCI config, and the learned allowlist's size.

    .venv/bin/python benchmarks/learn_wall.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sandproof import image, profile
from sandproof.image import Image
from sandproof.workload import images, learn, sandbox

DOCKER_DEFAULT_ALLOWED = 349
"""Names moby's profiles/seccomp/default.json allows unconditionally (its first rule),
counted by hand at commit 00f3d189; a few more are allowed by argument, arch or capability."""


def untraced(prof: profile.Profile, img: Image, in_dir: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        out = work / "out"
        out.mkdir()
        os.chown(out, prof.user.uid, prof.user.gid)
        cfg = sandbox.oci_config(
            prof,
            img,
            sandbox.command(img),
            rootfs=image.rootfs(img),
            in_dir=str(in_dir),
            out_dir=str(out),
            cgroup=f"/sandproof/bench-{work.name}",
        )
        return sandbox.run_runc(cfg, work).wall_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    prof, img = profile.load("default"), images.packet_inspector()
    in_dir = images.example_dir() / "in"
    untraced(prof, img, in_dir)  # warm
    t0 = time.perf_counter()
    for _ in range(runs):
        untraced(prof, img, in_dir)
    bare = time.perf_counter() - t0
    learned = learn.learn(prof, img, runs=runs, in_dir=in_dir)
    n = len(learned.allow())
    print(
        f"learn, {runs} traced runs: {learned.wall_s:.2f} s; {runs} untraced runs: {bare:.2f} s "
        f"({learned.wall_s / bare:.1f}x)"
    )
    print(
        f"allowlist: {n} names ({len(learned.runtime_only())} only for runc's init), "
        f"Docker's default allows {DOCKER_DEFAULT_ALLOWED}: {n / DOCKER_DEFAULT_ALLOWED:.0%}"
    )


if __name__ == "__main__":
    main()
