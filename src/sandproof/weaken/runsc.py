"""Weakenings of a gVisor sandbox that only runsc can express: a runsc flag, or a host file the
gofer serves (runsc/fsgofer/lisafs.go), for probes runc's weakenings cannot reach under gVisor
(weaken/gvisor.py UNWEAKENABLE says why none can reach the others). Each was run on runsc
release-20221219.0 (Debian's) and its probe FAILed, having PASSed unweakened."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

from sandproof.runtime.interface import Mutation
from sandproof.weaken.core import ENGINE_SOCKET, Weakening

RUNSC = ("runsc",)
KMSG = "/dev/kmsg"
FIRMWARE = "/sys/firmware"


def _bound(source: str, target: str, mode: str = "ro") -> dict[str, Any]:
    return {"destination": target, "type": "bind", "source": source, "options": ["rbind", "rprivate", mode]}


def _mounted(*mounts: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(cfg: dict[str, Any]) -> None:
        cfg["mounts"].extend(mounts)

    return edit


def _char_device(path: str) -> str | None:
    try:
        if stat.S_ISCHR(os.stat(path).st_mode):
            return None
    except OSError:
        pass
    return f"the host has no character device {path} to bind"


def _listable(path: str) -> str | None:
    try:
        if os.listdir(path):
            return None
    except OSError:
        pass
    return f"the host's {path} is missing or empty: bound, it shows nothing"


def _socket(path: str) -> str | None:
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            return None
    except OSError:
        pass
    return f"no engine socket at {path} on this host"


WEAKENINGS: tuple[Weakening, ...] = (
    Weakening(
        "runsc-host-uds-engine-socket",
        "PR-SOCK-DOCKER",
        "runsc --host-uds=open and the Docker socket bound in: the gofer serves the host's socket "
        "(runsc/fsgofer/lisafs.go checkSupportedFileType; engine-socket is refused without the flag) and "
        "root inside reaches the host's engine (measured: GET /_ping answered 200)",
        mutation=Mutation(oci=_mounted(_bound(ENGINE_SOCKET, ENGINE_SOCKET)), runsc_flags=("--host-uds=open",)),
        runtimes=RUNSC,
        no_effect=lambda _runtime: _socket(ENGINE_SOCKET),
    ),
    Weakening(
        "runsc-cgroupfs",
        "PR-NS-CGROUP",
        "runsc --cgroupfs: the sentry mounts a cgroup hierarchy (memory, cpu) at /sys/fs/cgroup, "
        "which the sentry, having no cgroup namespace, shows un-namespaced (runsc/boot/vfs.go compileMounts)",
        mutation=Mutation(runsc_flags=("--cgroupfs",)),
        runtimes=RUNSC,
    ),
    Weakening(
        "runsc-host-device-bound",
        "PR-DEV-1",
        "the host's /dev/kmsg bound at /dev/kmsg: the gofer serves host character devices and opens "
        "them for the sentry (runsc/fsgofer/lisafs.go checkSupportedFileType, Open), whatever "
        "linux.devices says; shown as chr 0:0 (no device number passed), opened as the gofer",
        mutation=Mutation(oci=_mounted(_bound(KMSG, KMSG))),
        runtimes=RUNSC,
        no_effect=lambda _runtime: _char_device(KMSG),
    ),
    Weakening(
        "runsc-host-firmware-bound",
        "PR-KPATH-1",
        "the host's /sys/firmware bound over the sentry's empty one: the firmware's tables (ACPI, DMI, "
        "memmap) served by the gofer where the sentry's sysfs masks them",
        mutation=Mutation(oci=_mounted(_bound(FIRMWARE, FIRMWARE))),
        runtimes=RUNSC,
        no_effect=lambda _runtime: _listable(FIRMWARE),
    ),
    Weakening(
        "runsc-hostinet",
        "PR-SYSCTL-1",
        "runsc --network=host after the render's --network=none (Go's flag package keeps the last): "
        "socket calls go to the host kernel's stack (pkg/sentry/socket/hostinet), in the config's new, "
        "empty network namespace (runsc/sandbox/sandbox.go createSandboxProcess), so no interface beyond "
        "lo shows; the net sysctls are hostinet's, not the netstack's (stack.go PortRange: 32768 28232)",
        mutation=Mutation(runsc_flags=("--network=host",)),
        runtimes=RUNSC,
    ),
)
