"""Weakenings only the engine's own view sees (target: the ``engine-view`` check): the
sandbox inside looks the same, the engine made a different one.

- A seccomp rule taken away for a call the kernel refuses an unprivileged caller anyway:
  swapoff answers EPERM for want of CAP_SYS_ADMIN before it reads an argument (mm/swapfile.c
  SYSCALL_DEFINE1(swapoff): ``if (!capable(CAP_SYS_ADMIN)) return -EPERM``), so the probe
  inside gets the same EPERM with or without the rule. (kexec_load would not do here: this
  kernel has no kexec and answers ENOSYS, which the seccomp sweep tells apart.)
- AppArmor turned off on a host without AppArmor: nothing changes inside here, and the same
  flag on a host with AppArmor drops its profile (the engine records it either way).
- A host hook added to runc's config: a program runc runs on the host, as root, when the
  container starts (OCI runtime-spec config.md "POSIX-platform Hooks"); nothing of it is
  inside the container.
- A larger /dev/shm where the profile's IPC mode mounts none: the engine still records it.
- ``--rm`` taken back (``--rm=false``): the container, its config and its writable layer outlive
  the run, for anyone with the engine's socket to start again or copy out of; nothing inside
  can tell (the engine removes it only after the process exits). Before the view's allow-list
  (engineview/core.py ``unlisted``) nobody had listed HostConfig.AutoRemove: the view PASSed.
- ``--hostname`` of 12 hex digits that are not the container's ID: a host-chosen name (48 bits
  of whatever the caller likes) that has the shape of the engine's own. PR-ENV-1 inside can
  only hold the name to the shape (the sandbox does not know its ID); Docker's view compared it
  with the ID's prefix, Podman's only with the shape, and PASSed (podman 4.3.1, measured).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import Weakening, docker_flags, oci_edit

TARGET = "engine-view"
DOCKER = ("docker",)
RUNC = ("runc",)


def _without(name: str) -> Mutation:
    def edit(policy: dict[str, Any]) -> None:
        rules = [{**r, "names": [n for n in r["names"] if n != name]} for r in policy["syscalls"]]
        policy["syscalls"] = [r for r in rules if r["names"]]

    return Mutation(seccomp=edit)


def _host_hook(cfg: dict[str, Any]) -> None:
    cfg["hooks"] = {"poststart": [{"path": "/bin/true", "args": ["true"]}]}


KEPT_LABEL = "sandproof.weaken=kept-after-run"


@contextlib.contextmanager
def _kept(_runtime: str) -> Iterator[Mutation]:
    """--rm=false after the render's --rm (the CLI's last value wins), the container labelled
    so that only the ones this weakening kept are removed after the run."""
    try:
        yield Mutation(docker_args=("--rm=false", "--label", KEPT_LABEL))
    finally:
        prune = ["docker", "container", "prune", "--force", "--filter", f"label={KEPT_LABEL}"]
        subprocess.run(prune, capture_output=True, check=False, timeout=60)


HEX_HOSTNAME = "0123456789ab"
"""Twelve hex digits no container ID of this run starts with (a random ID's odds: 2**-48)."""


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "seccomp-swapoff-rule-removed",
        TARGET,
        "the seccomp rule for swapoff taken away (the kernel refuses it without CAP_SYS_ADMIN anyway)",
        mutation=_without("swapoff"),
        # podman: its inspect records the file's path, the OCI config it wrote the policy (engineview/podman.py)
        runtimes=("docker", "runc", "podman"),
    ),
    Weakening(
        "apparmor-unconfined-recorded",
        TARGET,
        "--security-opt apparmor=unconfined, where the host may have no AppArmor to turn off",
        mutation=docker_flags("--security-opt", "apparmor=unconfined"),
        # runc refuses an AppArmor profile where AppArmor is off; podman's inspect records it
        runtimes=(*DOCKER, "podman"),
    ),
    Weakening(
        "runc-host-hook", TARGET, "a poststart hook runc runs on the host", mutation=oci_edit(_host_hook), runtimes=RUNC
    ),
    Weakening(
        "shm-size",
        TARGET,
        "--shm-size 1g: no /dev/shm with --ipc none, so nothing inside changes, but the engine runs a config "
        "the profile did not render",
        mutation=docker_flags("--shm-size", "1g"),
        runtimes=DOCKER,
    ),
    Weakening(
        "hostname-hex-chosen",
        TARGET,
        "--hostname of 12 hex digits, not the container ID's: the engine's shape, the caller's name",
        mutation=docker_flags("--hostname", HEX_HOSTNAME),
        runtimes=(*DOCKER, "podman"),
    ),
    Weakening(
        "kept-after-run",
        TARGET,
        "--rm=false: the container and its config outlive the run (a docker start runs it again)",
        setup=_kept,
        runtimes=DOCKER,
    ),
)
