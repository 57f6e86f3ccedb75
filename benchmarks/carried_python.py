"""Start time of sandproof's Python carried into a foreign image (``/.sandproof``, its own
loader) against the image's own process, in the default profile's sandbox, on Docker
and on runc.

Rows: the busybox image running ``/bin/true`` (the floor: a container start), the carried
``python -c pass`` in busybox and in the example image, and the example image's own
``python3.11 -c pass``. Medians of N repetitions, one run; compare within a run.

    .venv/bin/python benchmarks/carried_python.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sandproof import image, profile, seccomp
from sandproof.workload import harness_mount, images, sandbox

DEFAULT = profile.load("default")


def once(runtime: str, img: image.Image, argv: list[str], *, mount: bool) -> float:
    hm = harness_mount.build()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        in_dir, out_dir = work / "in", work / "out"
        in_dir.mkdir()
        out_dir.mkdir()
        os.chown(out_dir, DEFAULT.user.uid, DEFAULT.user.gid)
        if runtime == "docker":
            sf = work / "seccomp.json"
            sf.write_bytes(seccomp.render(DEFAULT))
            cmd = sandbox.docker_argv(
                DEFAULT,
                img,
                argv,
                in_dir=str(in_dir),
                out_dir=str(out_dir),
                seccomp_file=str(sf),
                extra=hm.docker_args()[:2] if mount else [],
            )
            env = {**os.environ, "DOCKER_CONFIG": str(work / "cfg")}
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
            wall = time.perf_counter() - t0
            code = proc.returncode
        else:
            cfg = sandbox.oci_config(
                DEFAULT,
                img,
                argv,
                rootfs=image.rootfs(img),
                in_dir=str(in_dir),
                out_dir=str(out_dir),
                cgroup=f"/sandproof/bench-{work.name}",
                mounts=[hm.oci_mount()] if mount else [],
            )
            ran = sandbox.run_runc(cfg, work)
            wall, code = ran.wall_s, ran.code
        if code != 0:
            raise SystemExit(f"{runtime} {argv[:2]}: exit {code}")
        return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    reps = ap.parse_args().reps
    busybox, example = images.busybox(), images.packet_inspector()
    image.ensure_docker(busybox)
    image.ensure_docker(example)
    carried = harness_mount.build().python_argv("-S", "-c", "pass")
    rows = [
        ("busybox /bin/true", busybox, ["/bin/true"], False),
        ("busybox + carried python -c pass", busybox, carried, True),
        ("example + carried python -c pass", example, carried, True),
        ("example's own python -c pass", example, ["/usr/bin/python3.11", "-S", "-c", "pass"], False),
    ]
    for runtime in ("docker", "runc"):
        floor = None
        for label, img, argv, mount in rows:
            once(runtime, img, argv, mount=mount)  # warm: page cache, unpacked rootfs
            med = statistics.median(once(runtime, img, argv, mount=mount) for _ in range(reps))
            floor = floor or med
            print(f"{runtime:6} {label:36} {med * 1000:7.1f} ms  {med / floor:5.2f}x")


if __name__ == "__main__":
    main()
