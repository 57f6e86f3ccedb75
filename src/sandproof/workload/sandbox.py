"""Any process in a foreign image, in the profile's sandbox: the argv for Docker, the OCI
config for runc, and one supervised ``runc run`` (which ``learn`` wraps in strace).

The sandbox is the profile's, rendered by ``render/docker.py`` and ``render/oci.py``
unchanged; only what belongs to the image is the image's: its root filesystem, its
working directory and, unless a command is given, its ENTRYPOINT + CMD. This is the seam
``attest --image`` and ``run`` will sit on (issue 11); it runs no harness itself.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.profile import Profile
from sandproof.render import oci
from sandproof.runtime.runc import STATE_ROOT, run_rootfs
from sandproof.workload import rendered

RUN_TIMEOUT_S = 120.0


def image_config(image: Image) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads(image.config).get("config") or {}
    return cfg


def volumes(image: Image) -> list[str]:
    """The paths the image declares ``VOLUME`` (its config's ``Volumes``), sorted."""
    declared = image_config(image).get("Volumes") or {}
    return sorted(declared) if isinstance(declared, dict) else []


def command(image: Image, cmd: Sequence[str] = ()) -> list[str]:
    """What the container runs: ``cmd`` replaces the image's CMD after its ENTRYPOINT,
    as ``docker run IMAGE CMD...`` does."""
    cfg = image_config(image)
    argv = [*(cfg.get("Entrypoint") or []), *(cmd or cfg.get("Cmd") or [])]
    if not argv:
        raise EngineError(f"image {image.image_id}: no entrypoint, no command, and none given")
    return argv


def docker_argv(
    profile: Profile,
    image: Image,
    argv: Sequence[str],
    *,
    in_dir: str,
    out_dir: str,
    seccomp_file: str,
    extra: Sequence[str] = (),
) -> list[str]:
    """The profile's ``docker run`` with ``argv`` as the container's whole command line."""
    return rendered.docker_argv(
        profile, image.image_id, argv, in_dir=in_dir, out_dir=out_dir, seccomp_file=seccomp_file, extra=extra
    )


def oci_config(
    profile: Profile,
    image: Image,
    argv: Sequence[str],
    *,
    rootfs: Path,
    in_dir: str,
    out_dir: str,
    cgroup: str,
    mounts: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The profile's OCI config with ``argv``, the image's rootfs and working directory
    (runc creates a missing cwd inside the rootfs: libcontainer/init_linux.go setupCwd;
    the image's own exists, so the shared unpacked rootfs is not written)."""
    cfg = oci.config(profile, in_dir=in_dir, out_dir=out_dir, run_date="1970-01-01", cgroup=cgroup)
    cfg["mounts"].extend(mounts)
    cfg["process"]["args"] = list(argv)
    cfg["process"]["cwd"] = image_config(image).get("WorkingDir") or "/"
    cfg["root"]["path"] = str(rootfs)
    return cfg


@dataclass(frozen=True)
class Ran:
    """One finished ``runc run``."""

    code: int
    stdout: bytes
    stderr: bytes
    wall_s: float
    timed_out: bool = False


def run_runc(cfg: dict[str, Any], work: Path, *, wrap: Sequence[str] = (), timeout_s: float = RUN_TIMEOUT_S) -> Ran:
    """``runc run`` of ``cfg`` (its bundle under ``work``), optionally under ``wrap`` (a
    tracer's argv prefix); the container is killed and deleted whatever happens."""
    bundle = work / f"bundle-{uuid.uuid4().hex[:8]}"
    bundle.mkdir()
    cid = f"sandproof-wl-{uuid.uuid4().hex[:12]}"
    argv = [*wrap, "runc", "--root", STATE_ROOT, "run", "--bundle", str(bundle), cid]
    # where the run could write the shared unpacked tree (a writable root), a private overlay
    # of it in the bundle, detached after: no run changes the tree (review 11)
    with run_rootfs(cfg, Path(cfg["root"]["path"]), bundle) as root:
        (bundle / "config.json").write_text(json.dumps(dict(cfg, root=dict(cfg["root"], path=str(root)))))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            return Ran(124, exc.stdout or b"", exc.stderr or b"", time.perf_counter() - t0, timed_out=True)
        finally:
            for step in (["kill", cid, "KILL"], ["delete", "--force", cid]):
                subprocess.run(["runc", "--root", STATE_ROOT, *step], capture_output=True, timeout=60, check=False)
    return Ran(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - t0)
