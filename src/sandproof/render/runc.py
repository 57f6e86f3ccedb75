"""runc's command line and the OCI bundle it runs, rendered from the profile as
``render/docker.py`` renders ``docker run``: ``runtime/runc.py`` only runs what this returns.

The verifier re-renders both from the profile and the recorded paths (provenance's
"rendered" check), so nothing here may depend on the host beyond its arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandproof.contract import RUNC_STATE_ROOT
from sandproof.profile import Profile
from sandproof.render import oci
from sandproof.workload.carried import Workload

STATE_ROOT = RUNC_STATE_ROOT
"""runc's ``--root``: its state directories, apart from any other runc user's."""
CGROUP_PARENT = "/sandproof"


def cgroup(container_id: str) -> str:
    """The container's cgroup path; its last part is the container ID (provenance reads it back)."""
    return f"{CGROUP_PARENT}/{container_id}"


def config(
    profile: Profile,
    *,
    in_dir: str,
    out_dir: str,
    run_date: str,
    container_id: str,
    seccomp_policy: dict[str, Any] | None = None,
    workload: Workload | None = None,
) -> dict[str, Any]:
    """The bundle's ``config.json`` for one container; ``root.path`` is set by the runner,
    which alone knows whether the shared unpacked rootfs can be used as it is."""
    return oci.config(
        profile,
        in_dir=in_dir,
        out_dir=out_dir,
        run_date=run_date,
        cgroup=cgroup(container_id),
        seccomp_policy=seccomp_policy,
        workload=workload,
    )


def config_bytes(cfg: dict[str, Any]) -> bytes:
    """What goes into the bundle: runc parses it, nobody reads it, so compact (json's C
    encoder; ``indent`` would take its pure-Python path, ~10x slower). The evidence records
    the config itself, redacted, not these bytes."""
    return json.dumps(cfg).encode()


def argv(bundle: Path | str, container_id: str, *, binary: str = "runc", preserve_fds: int = 0) -> list[str]:
    """``runc run`` in the foreground: runc destroys the container itself when its process
    exits (runc utils_linux.go runner.run: ``defer r.destroy()`` unless detached)."""
    args = [binary, "--root", STATE_ROOT, "run", "--bundle", str(bundle), container_id]
    if preserve_fds:
        args[4:4] = ["--preserve-fds", str(preserve_fds)]  # runc hands fds 3.. of its caller on
    return args


def state_dir(container_id: str) -> Path:
    """Where runc keeps a container's state while it exists (libcontainer: ``<root>/<id>``)."""
    return Path(STATE_ROOT) / container_id
