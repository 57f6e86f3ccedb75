"""runc, daemonless: an OCI bundle rendered from the same profile, the rootfs
unpacked from the same image layers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from sandproof import image as images
from sandproof import seccomp
from sandproof.contract import RUNC_STATE_ROOT
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.render import oci
from sandproof.runtime.interface import Finished, RunRequest, RunResult, Runtime, first_line, supervise

STATE_ROOT = RUNC_STATE_ROOT


def _missing_mountpoints(cfg: dict[str, Any], rootfs: Path) -> list[str]:
    """Mount destinations that would have to be created inside the rootfs itself."""
    missing: list[str] = []
    seen: list[str] = []
    for m in cfg["mounts"]:
        dest = m["destination"]
        inside_other = any(dest.startswith(d.rstrip("/") + "/") for d in seen)
        seen.append(dest)
        if not inside_other and not os.path.lexists(rootfs / dest.lstrip("/")):
            missing.append(dest)
    return missing


class Runc(Runtime):
    name = "runc"

    def __init__(self, binary: str = "runc") -> None:
        self.binary = binary

    def _version(self) -> str | None:
        return first_line([self.binary, "--version"])

    def available(self) -> bool:
        return self._version() is not None

    def version(self) -> str:
        v = self._version()
        if v is None:
            raise EngineError("runc is not installed or does not run (apt-get install runc)")
        return v

    def prepare(self, image: Image) -> None:
        images.rootfs(image)

    def run(self, request: RunRequest) -> RunResult:
        profile = request.profile
        bundle = request.work_dir / "bundle"
        bundle.mkdir()
        rootfs = images.rootfs(request.image)
        container_id = f"sandproof-{uuid.uuid4().hex[:12]}"
        cfg = oci.config(
            profile,
            in_dir=str(request.in_dir),
            out_dir=str(request.out_dir),
            run_date=request.run_date,
            cgroup=f"/sandproof/{container_id}",
        )
        if request.mutation.seccomp is not None and "seccomp" in cfg["linux"]:
            request.mutation.seccomp(cfg["linux"]["seccomp"])
        if request.mutation.oci is not None:
            request.mutation.oci(cfg)
        if request.mutation.entrypoint:  # test-only: hostile code instead of the harness
            cfg["process"]["args"] = list(request.mutation.entrypoint)
        if not cfg["root"]["readonly"] or _missing_mountpoints(cfg, rootfs):
            # runc creates missing mountpoints in the rootfs and a writable rootfs can be
            # written: either would change the shared unpacked image, so copy it
            shutil.copytree(rootfs, bundle / "rootfs", symlinks=True)
            rootfs = bundle / "rootfs"
        cfg["root"]["path"] = str(rootfs)
        (bundle / "config.json").write_text(json.dumps(cfg, indent=2))
        argv = [self.binary, "--root", STATE_ROOT, "run", "--bundle", str(bundle), container_id]
        leak = os.open("/", os.O_RDONLY | os.O_DIRECTORY) if request.mutation.preserve_host_fd else None
        if leak is not None:
            argv[4:4] = ["--preserve-fds", "1"]  # runc hands fds 3.. of its caller to the container
        t0 = time.perf_counter()
        try:
            done = supervise(argv, timeout=request.timeout_s, stop=lambda: self.remove(container_id), leak_fd=leak)
        finally:
            if leak is not None:
                os.close(leak)
            self.remove(container_id)
        wall = time.perf_counter() - t0
        details: dict[str, Any] = {"oci_config": oci.redacted(cfg)}
        if "seccomp" in cfg["linux"]:  # what runc was given, hashed as the Docker file is
            details["seccomp_sha256"] = hashlib.sha256(seccomp.dump(cfg["linux"]["seccomp"])).hexdigest()
        if done.timed_out:
            return RunResult(124, done.stdout, done.stderr, argv, wall, details, timed_out=True)
        return RunResult(done.code, done.stdout, done.stderr, argv, wall, details, refused=_refused(done))

    def remove(self, container_id: str) -> None:
        """runc kill, then delete: ``delete --force`` alone SIGKILLs the init, but a frozen or
        stopped container is only deleted once its processes are gone."""
        state = [self.binary, "--root", STATE_ROOT]
        subprocess.run([*state, "kill", container_id, "KILL"], capture_output=True, timeout=60, check=False)
        subprocess.run([*state, "delete", "--force", container_id], capture_output=True, timeout=60, check=False)


def _refused(done: Finished) -> bool:
    """runc's own failure before the process ran is its last stderr line, logged as
    ``level=error msg="runc run failed: ..."`` (runc main.go fatal via logrus); an exec that
    fails inside the sandbox (the seed's defect) is not."""
    lines = done.stderr.tail.splitlines() or done.stderr.head.splitlines()
    return done.code != 0 and bool(lines) and b'level=error msg="runc run failed: ' in lines[-1]
