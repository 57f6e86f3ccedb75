"""runc, daemonless: an OCI bundle rendered from the same profile, the rootfs
unpacked from the same image layers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from sandproof import image as images
from sandproof.errors import EngineError
from sandproof.image import Image
from sandproof.render import oci
from sandproof.runtime.interface import RUN_TIMEOUT_S, RunRequest, RunResult, Runtime, first_line

STATE_ROOT = "/run/sandproof-runc"


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
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_S,
                check=False,
                # in the child only: the host's / becomes its fd 3, kept open through exec
                pass_fds=(3,) if leak is not None else (),
                preexec_fn=(lambda: os.dup2(leak, 3)) if leak is not None else None,
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            code, out, err = 124, "", f"timed out after {RUN_TIMEOUT_S}s"
        finally:
            if leak is not None:
                os.close(leak)
            subprocess.run(
                [self.binary, "--root", STATE_ROOT, "delete", "--force", container_id], capture_output=True, check=False
            )
        return RunResult(code, out, err, argv, time.perf_counter() - t0, {"oci_config": oci.redacted(cfg)})
